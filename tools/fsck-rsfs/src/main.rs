// SPDX-License-Identifier: GPL-2.0

//! `fsck.rsfs [-n] [-y|-p|-a] [-f] [-v] [-O journal] DEVICE_OR_FILE`

use fsck_rsfs::{add_journal, fsck, Options, EXIT_OPERATIONAL, EXIT_USAGE};
use std::path::PathBuf;
use std::process::exit;

const USAGE: &str = "usage: fsck.rsfs [-n] [-y|-p|-a] [-f] [-v] [-O journal] DEVICE_OR_FILE

  -n          check only, open read-only, change nothing (a journal that
              needs recovery is replayed in memory only, and checked so)
  -y/-p/-a    repair what is safe without asking (the default); a journal
              that needs recovery is replayed first
  -f          accepted for compatibility (the check is always complete)
  -v          print a summary
  -O journal  add a journal to a clean rsfs 1.0 filesystem (making it 1.1,
              which the kernel mounts read-write); refused if the check
              finds anything wrong

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
    let mut add_journal_to = false;
    let mut path: Option<PathBuf> = None;
    let mut only_paths = false;
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let s = arg.to_string_lossy();
        if !only_paths && s == "--" {
            only_paths = true;
        } else if !only_paths && (s == "-h" || s == "--help") {
            println!("{USAGE}");
            exit(0);
        } else if !only_paths && s.starts_with('-') && s.len() > 1 {
            for (i, c) in s[1..].char_indices() {
                match c {
                    'n' => no_change = true,
                    'y' | 'p' | 'a' => yes = true,
                    'f' => {}
                    'v' => verbose = true,
                    'O' => {
                        let rest = &s[1 + i + 1..];
                        let value = if rest.is_empty() {
                            args.next()
                                .map(|v| v.to_string_lossy().into_owned())
                                .unwrap_or_else(|| usage("-O needs a value"))
                        } else {
                            rest.to_string()
                        };
                        match value.as_str() {
                            "journal" => add_journal_to = true,
                            "^journal" => usage("removing the journal is not supported"),
                            v => usage(&format!("unknown feature {v:?} (known: journal)")),
                        }
                        break;
                    }
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
    if no_change && add_journal_to {
        usage("-n cannot be combined with -O journal");
    }
    let Some(path) = path else {
        usage("no device given")
    };
    let opts = Options {
        repair: !no_change,
        verbose,
    };
    let report = if add_journal_to {
        add_journal(&path, &opts)
    } else {
        fsck(&path, &opts)
    };
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
