//! Loading and validating generated scenarios of 1,000 and 10,000 steps
//! (design target: under 200 ms for 1,000 steps, linear growth).
//!
//! Run briefly: `cargo bench --bench load -- --warm-up-time 1 --measurement-time 3`.

use std::fmt::Write;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

/// A scenario with `n` steps in a chain: each asks, waits, and routes two
/// intents onward; every fifth has a `when` with `else`; a few set variables
/// and call HTTP, so every kind of parameter is compiled.
fn scenario(n: usize) -> String {
    let mut s = String::from("scenario:\n  name: Bench\n  steps:\n");
    for i in 0..n {
        let next = (i + 1) % n;
        let _ = writeln!(s, "    - name: Step {i}");
        if i % 5 == 0 {
            let _ = writeln!(s, "      when: 'score > {i}'");
        }
        let _ = write!(
            s,
            "      actions:\n        - sendText: 'Question {i}: {{{{ name }}}}, score {{{{ score }}}}?'\n        - set: 'score = score + {i}'\n"
        );
        if i % 10 == 0 {
            let _ = write!(
                s,
                "        - http.post:\n            url: 'https://example.com/{{{{ id }}}}/{i}'\n            headers: ['Content-Type: application/json']\n            payload: {{step: {i}, who: '{{{{ name }}}}'}}\n"
            );
        }
        let _ = write!(
            s,
            "        - getInput:\n      next:\n        answer: Step {next}\n        AMAZON.HelpIntent: Step 0\n        else: Step {next}\n"
        );
    }
    s.push_str("intents:\n  answer: ['{name}', 'my name is {name}']\nslots:\n  name: [Ann, Bob]\n");
    s
}

fn bench_load(c: &mut Criterion) {
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    for n in [1_000, 10_000] {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("main.yml"), scenario(n)).expect("write");
        let loaded = steptalk::scenario::load(dir.path());
        assert!(
            loaded.scenario.is_some(),
            "{:?}",
            loaded.diagnostics.first()
        );
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| black_box(steptalk::scenario::load(black_box(dir.path()))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_load);
criterion_main!(benches);
