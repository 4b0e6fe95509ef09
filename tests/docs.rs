//! One source for each list: the lists that the README, the rustdoc and the
//! compiler each hold agree.
//!
//! - The options: the compiler's (its unknown-option error, which trybuild
//!   checks in `tests/ui/unknown-key.stderr`), the README's table and the
//!   rustdoc's (`src/docs/options.md`, included by `src/lib.rs`).
//! - The commands: [`daemonic::Control::ALL`], the compiler's
//!   unknown-command error, the README's table and the rustdoc's
//!   (`src/docs/control.md`).
//! - The rustdoc's compile-time errors: each answer is an error that
//!   trybuild checks in a `tests/ui/*.stderr` file.
//! - `tests/README.md` names only tests that exist.
//!
//! These read files and run nothing: no platform gate.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: impl AsRef<Path>) -> String {
    let path = root().join(path);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A heading's level and title, outside code blocks.
fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.bytes().take_while(|&b| b == b'#').count();
    let title = line[level..].strip_prefix(' ')?;
    (level > 0).then_some((level, title.trim()))
}

/// The lines under the heading titled `title` (at any level), up to the next
/// heading of the same level or above. Lines in code blocks are never
/// headings (`# ` starts a shell comment, or a hidden doctest line).
fn section<'a>(text: &'a str, title: &str, source: &str) -> Vec<&'a str> {
    let mut fenced = false;
    let mut level = None;
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        let found = if fenced { None } else { heading(line) };
        match (level, found) {
            (None, Some((at, name))) if name == title => level = Some(at),
            (Some(within), Some((at, _))) if at <= within => break,
            (Some(_), _) => lines.push(line),
            _ => {}
        }
    }
    assert!(level.is_some(), "{source} has no section headed {title:?}");
    lines
}

/// The cells of each row of the first table in `lines`, header and
/// separator left out; `\|` inside a cell is a `|`.
fn first_table(lines: &[&str], source: &str) -> Vec<Vec<String>> {
    let rows: Vec<&str> = lines
        .iter()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .copied()
        .collect();
    assert!(rows.len() > 2, "{source}: no table with rows found");
    rows[2..]
        .iter()
        .map(|row| {
            let row = row.trim().trim_start_matches('|').trim_end_matches('|');
            let row = row.replace("\\|", "\u{0}");
            row.split('|')
                .map(|cell| cell.replace('\u{0}', "|").trim().to_owned())
                .collect()
        })
        .collect()
}

/// The first column of the first table of the section `title`, each cell's
/// backticks taken off: `umask` for "`umask`".
fn names_in_table(text: &str, title: &str, source: &str) -> Vec<String> {
    first_table(&section(text, title, source), source)
        .into_iter()
        .map(|cells| cells[0].trim_matches('`').to_owned())
        .collect()
}

/// "a, b, c and d", as the compiler's messages list things, after `lead`.
fn listed_after(text: &str, lead: &str, source: &str) -> Vec<String> {
    let line = text
        .lines()
        .find_map(|line| line.split_once(lead).map(|(_, list)| list))
        .unwrap_or_else(|| panic!("{source}: no line with {lead:?}"));
    let (most, last) = line
        .rsplit_once(" and ")
        .unwrap_or_else(|| panic!("{source}: {line:?} is not a list"));
    most.split(", ")
        .chain([last])
        .map(|word| word.trim().to_owned())
        .collect()
}

/// Fails, naming every entry that `found` (from `source`) lacks or adds, or
/// repeats, against `expected` (from `truth`).
fn assert_same(expected: &[String], truth: &str, found: &[String], source: &str) {
    let want: BTreeSet<&String> = expected.iter().collect();
    let have: BTreeSet<&String> = found.iter().collect();
    let missing: Vec<_> = want.difference(&have).collect();
    let extra: Vec<_> = have.difference(&want).collect();
    let mut seen = BTreeSet::new();
    let repeated: Vec<_> = found.iter().filter(|name| !seen.insert(*name)).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && repeated.is_empty(),
        "{source} disagrees with {truth}: missing {missing:?}, not in {truth} {extra:?}, \
         given twice {repeated:?}"
    );
}

/// The rustdoc file that holds a section, checked to be part of the crate docs.
fn rustdoc(file: &str) -> String {
    let lib = read("src/lib.rs");
    let include = format!("#![doc = include_str!(\"docs/{file}\")]");
    assert!(
        lib.contains(&include),
        "src/lib.rs does not include src/docs/{file} in the crate docs"
    );
    read(Path::new("src/docs").join(file))
}

fn compiler_options() -> Vec<String> {
    let stderr = read("tests/ui/unknown-key.stderr");
    listed_after(&stderr, "the options are ", "tests/ui/unknown-key.stderr")
}

fn commands() -> Vec<String> {
    daemonic::Control::ALL
        .iter()
        .map(|command| command.as_str().to_owned())
        .collect()
}

#[test]
fn the_readme_lists_every_option_the_compiler_knows() {
    let options = compiler_options();
    let readme = names_in_table(&read("README.md"), "Options", "README.md");
    assert_same(
        &options,
        "the compiler",
        &readme,
        "README.md's Options table",
    );
}

#[test]
fn the_rustdoc_lists_every_option_the_compiler_knows() {
    let options = compiler_options();
    let docs = names_in_table(&rustdoc("options.md"), "Options", "src/docs/options.md");
    assert_same(
        &options,
        "the compiler",
        &docs,
        "the rustdoc's Options table",
    );
}

#[test]
fn the_compiler_names_every_command() {
    let stderr = read("tests/ui/control-unknown-word.stderr");
    let named = listed_after(
        &stderr,
        "the commands are ",
        "tests/ui/control-unknown-word.stderr",
    );
    assert_same(
        &commands(),
        "Control::ALL",
        &named,
        "the compiler's unknown-command error",
    );
}

#[test]
fn the_readme_lists_every_command() {
    let readme = names_in_table(&read("README.md"), "Control commands", "README.md");
    assert_same(
        &commands(),
        "Control::ALL",
        &readme,
        "README.md's Control commands table",
    );
}

#[test]
fn the_rustdoc_lists_every_command() {
    let docs = names_in_table(
        &rustdoc("control.md"),
        "Control commands",
        "src/docs/control.md",
    );
    assert_same(
        &commands(),
        "Control::ALL",
        &docs,
        "the rustdoc's Control commands table",
    );
}

/// The `error: ...` lines of every `tests/ui/*.stderr`.
fn compile_errors() -> BTreeSet<String> {
    let dir = root().join("tests/ui");
    let mut errors = BTreeSet::new();
    for entry in fs::read_dir(&dir).expect("tests/ui") {
        let path = entry.expect("an entry of tests/ui").path();
        if path.extension().is_some_and(|ext| ext == "stderr") {
            let text = fs::read_to_string(&path).expect("a .stderr file");
            errors.extend(
                text.lines()
                    .filter_map(|line| line.strip_prefix("error: "))
                    .map(str::to_owned),
            );
        }
    }
    errors
}

#[test]
fn each_compile_time_answer_in_the_rustdoc_is_the_compilers() {
    let errors = compile_errors();
    let docs = rustdoc("errors.md");
    let rows = first_table(
        &section(&docs, "At compile time", "src/docs/errors.md"),
        "src/docs/errors.md",
    );
    // The rows that describe an answer rather than quote it.
    let described = ["syn's error", "rustc's type error", "each of them"];
    let mut wrong = Vec::new();
    for cells in &rows {
        let answer = cells[1].replace("\\[", "[").replace("\\]", "]");
        if described.iter().any(|lead| answer.starts_with(lead)) {
            continue;
        }
        if !errors.contains(&answer) {
            wrong.push(answer);
        }
    }
    assert!(
        wrong.is_empty(),
        "src/docs/errors.md quotes compile errors that no tests/ui/*.stderr holds: {wrong:#?}"
    );
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn the_tests_readme_names_only_tests_that_exist() {
    let mut files = Vec::new();
    rust_files(&root().join("tests"), &mut files);
    rust_files(&root().join("daemon-core/src"), &mut files);
    let source: String = files
        .iter()
        .map(|file| fs::read_to_string(file).expect("a source file"))
        .collect();
    let readme = read("tests/README.md");
    let mut fenced = false;
    let prose: String = readme
        .lines()
        .filter(|line| {
            fenced ^= line.trim_start().starts_with("```");
            !fenced && !line.trim_start().starts_with("```")
        })
        .map(|line| format!("{line}\n"))
        .collect();
    // A test's name is a snake_case sentence: two underscores at least,
    // which no option or call named there has.
    let named: BTreeSet<&str> = prose
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|word| {
            word.matches('_').count() >= 2
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
        .collect();
    assert!(
        named.len() > 50,
        "tests/README.md names {} tests",
        named.len()
    );
    let missing: Vec<_> = named
        .into_iter()
        .filter(|name| !source.contains(&format!("fn {name}(")))
        .collect();
    assert!(
        missing.is_empty(),
        "tests/README.md names tests that do not exist: {missing:#?}"
    );
}
