//! Helpers shared by steptalk's typed errors.

/// `error: cause: cause`, on one line: for log lines and for messages whose
/// top level alone says too little (reqwest's is often "error sending request").
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
