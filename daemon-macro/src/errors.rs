//! What every check shares to report: errors gathered into one, so that all
//! are shown at once, and lists of words written out in a sentence.

use syn::Error;

/// Adds `error` to those gathered so far.
pub(crate) fn combine(errors: &mut Option<Error>, error: Error) {
    match errors {
        Some(errors) => errors.combine(error),
        None => *errors = Some(error),
    }
}

/// `a, b and c`: built from the lists themselves (`Key::ALL`, `COMMANDS`),
/// so that a message cannot forget one.
pub(crate) fn list<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    let words: Vec<&str> = words.into_iter().collect();
    match words.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::list;

    #[test]
    fn lists_read_as_a_sentence() {
        assert_eq!(list([]), "");
        assert_eq!(list(["start"]), "start");
        assert_eq!(list(["stop", "status"]), "stop and status");
        assert_eq!(list(["a", "b", "c"]), "a, b and c");
    }
}
