// SPDX-License-Identifier: GPL-2.0

//! `fsck.rsfs [-n] [-y|-p|-a] [-f] [-v] DEVICE_OR_FILE`

use fsck_rsfs::{fsck, Options, EXIT_OPERATIONAL, EXIT_USAGE};
use std::path::PathBuf;
use std::process::exit;

const USAGE: &str = "usage: fsck.rsfs [-n] [-y|-p|-a] [-f] [-v] DEVICE_OR_FILE

  -n        check only, open read-only, change nothing
  -y/-p/-a  repair what is safe without asking (the default)
  -f        accepted for compatibility (the check is always complete)
  -v        print a summary

exit status: 0 no errors, 1 errors corrected, 4 errors left uncorrected,
8 operational error, 16 usage error (sums when several apply)";

fn usage(msg: &str) -> ! {
    eprintln!("fsck.rsfs: {msg}\n{USAGE}");
    exit(EXIT_USAGE);
}

fn main() {
    let mut no_change = false;
    let mut yes = false;
    let mut verbose = false;
    let mut path: Option<PathBuf> = None;
    let mut only_paths = false;
    for arg in std::env::args_os().skip(1) {
        let s = arg.to_string_lossy();
        if !only_paths && s == "--" {
            only_paths = true;
        } else if !only_paths && (s == "-h" || s == "--help") {
            println!("{USAGE}");
            exit(0);
        } else if !only_paths && s.starts_with('-') && s.len() > 1 {
            for c in s[1..].chars() {
                match c {
                    'n' => no_change = true,
                    'y' | 'p' | 'a' => yes = true,
                    'f' => {}
                    'v' => verbose = true,
                    _ => usage(&format!("unknown option -{c}")),
                }
            }
        } else if path.is_none() {
            path = Some(PathBuf::from(arg));
        } else {
            usage("only one device may be given");
        }
    }
    if no_change && yes {
        usage("-n cannot be combined with -y, -p or -a");
    }
    let Some(path) = path else {
        usage("no device given")
    };
    let report = fsck(
        &path,
        &Options {
            repair: !no_change,
            verbose,
        },
    );
    for line in &report.info {
        println!("{line}");
    }
    for line in &report.problems {
        println!("{}: {line}", path.display());
    }
    if let Some(e) = &report.error {
        eprintln!("fsck.rsfs: {e}");
    } else if verbose || !report.problems.is_empty() {
        println!(
            "{}: {} problem(s), {} fixed, {} left",
            path.display(),
            report.fixed + report.unfixed,
            report.fixed,
            report.unfixed
        );
    }
    if report.exit_code & EXIT_OPERATIONAL != 0 && report.error.is_none() {
        eprintln!("fsck.rsfs: operational error");
    }
    exit(report.exit_code);
}
