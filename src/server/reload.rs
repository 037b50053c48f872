//! `--watch`: reload the scenarios when a file under the served folders
//! changes.
//!
//! Changes are debounced (an editor's save is several events), then every
//! folder is loaded again, off the async threads. A set that loads without
//! errors replaces the served one at once ([`LiveScenarios::replace`]); one
//! with errors is logged with its rendered diagnostics (`file:line:col`) and
//! the previous set keeps serving, so a typo never takes the skill down.
//! New scenario folders under a served folder of folders are picked up too.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify_debouncer_full::notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{
    new_debouncer, DebounceEventResult, DebouncedEvent, Debouncer, RecommendedCache,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::error::ServeError;
use super::state::LiveScenarios;

/// How long the files must be quiet before a reload.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// Watches the folders while it lives; dropping it stops watching.
pub struct ScenarioWatcher {
    // Held for its `Drop`: it owns the OS watch and the debouncing thread.
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
    reloader: JoinHandle<()>,
}

impl Drop for ScenarioWatcher {
    fn drop(&mut self) {
        self.reloader.abort();
    }
}

/// Starts watching `dirs` (as given to `serve`: scenario folders or folders of
/// them) and reloading `scenarios` from them. Must run inside a tokio runtime.
pub fn watch(
    dirs: &[PathBuf],
    scenarios: Arc<LiveScenarios>,
) -> Result<ScenarioWatcher, ServeError> {
    let (changes, mut received) = mpsc::unbounded_channel::<DebounceEventResult>();
    let mut debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
        // The receiver only goes away with the watcher.
        let _ = changes.send(result);
    })
    .map_err(|err| ServeError::Start(format!("cannot watch the scenario folders: {err}")))?;
    for dir in dirs {
        debouncer
            .watch(dir, RecursiveMode::Recursive)
            .map_err(|err| ServeError::Start(format!("cannot watch {}: {err}", dir.display())))?;
    }
    let dirs = dirs.to_vec();
    let reloader = tokio::spawn(async move {
        while let Some(result) = received.recv().await {
            let mut relevant = is_relevant(&result);
            // One reload for everything that arrived meanwhile.
            while let Ok(more) = received.try_recv() {
                relevant |= is_relevant(&more);
            }
            if relevant {
                reload(&dirs, &scenarios).await;
            }
        }
    });
    Ok(ScenarioWatcher {
        _debouncer: debouncer,
        reloader,
    })
}

/// Loads `dirs` again and serves the result, or logs why not.
async fn reload(dirs: &[PathBuf], scenarios: &LiveScenarios) {
    let to_load = dirs.to_vec();
    match tokio::task::spawn_blocking(move || super::load_scenarios(&to_load)).await {
        Ok(Ok(set)) => {
            tracing::info!(scenarios = ?set.ids().collect::<Vec<_>>(), "scenarios reloaded");
            scenarios.replace(set);
        }
        Ok(Err(err)) => {
            tracing::error!("reload failed, still serving the previous scenarios: {err}");
        }
        Err(err) => {
            tracing::error!(error = %err, "reload failed, still serving the previous scenarios");
        }
    }
}

/// Whether a batch of file events can change the scenarios: a YAML file or a
/// folder created, changed or removed. Reads, editors' swap files and watch
/// errors (logged here) are not.
fn is_relevant(result: &DebounceEventResult) -> bool {
    match result {
        Ok(events) => events.iter().any(changes_scenarios),
        Err(errors) => {
            for err in errors {
                tracing::warn!(error = %err, "watching the scenario folders");
            }
            false
        }
    }
}

fn changes_scenarios(event: &DebouncedEvent) -> bool {
    if matches!(event.kind, EventKind::Access(_)) {
        return false;
    }
    event
        .paths
        .iter()
        .any(|path| is_yaml(path) || path.is_dir())
}

fn is_yaml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext == "yml" || ext == "yaml")
}
