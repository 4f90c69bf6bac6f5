//! Prometheus metrics, rendered by hand in the text exposition format (version 0.0.4).
//!
//! A handful of counters, gauges and histograms do not justify the `prometheus` crate's dependency
//! tree; rendering them is a few dozen lines. Series live in `BTreeMap`s so the output order is
//! stable, which keeps scrapes diffable and tests simple. Label values are bounded: routes are the
//! router's matched patterns (never raw paths), models are the served ids.

use std::{
	collections::BTreeMap,
	fmt::Write,
	sync::{Mutex, MutexGuard, PoisonError},
	time::Duration,
};

/// Histogram bucket bounds in seconds, from a single fast token to a long CPU generation.
const SECONDS_BUCKETS: &[f64] =
	&[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];

#[derive(Clone, Default)]
struct Histogram {
	counts: Vec<u64>,
	sum: f64,
	count: u64,
}

impl Histogram {
	fn observe(&mut self, seconds: f64) {
		if self.counts.is_empty() {
			self.counts = vec![0; SECONDS_BUCKETS.len()];
		}
		for (bound, count) in SECONDS_BUCKETS.iter().zip(self.counts.iter_mut()) {
			if seconds <= *bound {
				*count = count.saturating_add(1);
			}
		}
		self.sum += seconds;
		self.count = self.count.saturating_add(1);
	}
}

#[derive(Default)]
struct Inner {
	http_requests: BTreeMap<(String, String, u16), u64>,
	jobs: BTreeMap<(String, &'static str), u64>,
	prompt_tokens: BTreeMap<String, u64>,
	generated_tokens: BTreeMap<String, u64>,
	queue_depth: BTreeMap<String, i64>,
	running: BTreeMap<String, i64>,
	queue_wait: BTreeMap<String, Histogram>,
	time_to_first_token: BTreeMap<String, Histogram>,
	job_duration: BTreeMap<String, Histogram>,
}

/// The worker's metrics registry.
#[derive(Default)]
pub struct Metrics {
	inner: Mutex<Inner>,
}

/// Escape a label value (backslash, double quote, newline), as the exposition format requires.
fn escape(value: &str) -> String {
	value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
	/// An empty registry.
	pub fn new() -> Self {
		Self::default()
	}

	fn lock(&self) -> MutexGuard<'_, Inner> {
		self.inner.lock().unwrap_or_else(PoisonError::into_inner)
	}

	/// Count one HTTP request by route pattern, method and status.
	pub fn http_request(&self, route: &str, method: &str, status: u16) {
		let mut inner = self.lock();
		let n =
			inner.http_requests.entry((route.to_owned(), method.to_owned(), status)).or_default();
		*n = n.saturating_add(1);
	}

	/// Count a finished or rejected job (`outcome`: completed, failed, rejected).
	pub fn job_finished(&self, model: &str, outcome: &'static str) {
		let mut inner = self.lock();
		let n = inner.jobs.entry((model.to_owned(), outcome)).or_default();
		*n = n.saturating_add(1);
	}

	/// Add the tokens of a completed job.
	pub fn tokens(&self, model: &str, prompt: u32, generated: u32) {
		let mut inner = self.lock();
		let p = inner.prompt_tokens.entry(model.to_owned()).or_default();
		*p = p.saturating_add(u64::from(prompt));
		let g = inner.generated_tokens.entry(model.to_owned()).or_default();
		*g = g.saturating_add(u64::from(generated));
	}

	/// Set a model's queue depth (used at start-up so the series exists before any job).
	pub fn set_queue_depth(&self, model: &str, depth: i64) {
		self.lock().queue_depth.insert(model.to_owned(), depth);
	}

	/// Change a model's queue depth by `delta`.
	pub fn add_queue_depth(&self, model: &str, delta: i64) {
		let mut inner = self.lock();
		let d = inner.queue_depth.entry(model.to_owned()).or_default();
		*d = d.saturating_add(delta);
	}

	/// Whether a model is generating right now.
	pub fn set_running(&self, model: &str, running: bool) {
		self.lock().running.insert(model.to_owned(), i64::from(running));
	}

	/// Record the latencies of a completed job.
	pub fn observe_job(&self, model: &str, queue_wait: Duration, ttft: Duration, total: Duration) {
		let mut inner = self.lock();
		inner.queue_wait.entry(model.to_owned()).or_default().observe(queue_wait.as_secs_f64());
		inner.time_to_first_token.entry(model.to_owned()).or_default().observe(ttft.as_secs_f64());
		inner.job_duration.entry(model.to_owned()).or_default().observe(total.as_secs_f64());
	}

	/// Render every series in the Prometheus text format.
	pub fn render(&self) -> String {
		let inner = self.lock();
		let mut out = String::new();
		// `write!` to a String cannot fail; the results are ignored for that reason.
		let header = |out: &mut String, name: &str, kind: &str, help: &str| {
			let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
		};

		header(
			&mut out,
			"atoma_worker_http_requests_total",
			"counter",
			"HTTP requests by route, method and status.",
		);
		for ((route, method, status), n) in &inner.http_requests {
			let _ = writeln!(
				out,
				"atoma_worker_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
				escape(route),
				escape(method)
			);
		}
		header(
			&mut out,
			"atoma_worker_jobs_total",
			"counter",
			"Jobs by model and outcome (completed, failed, rejected).",
		);
		for ((model, outcome), n) in &inner.jobs {
			let _ = writeln!(
				out,
				"atoma_worker_jobs_total{{model=\"{}\",outcome=\"{outcome}\"}} {n}",
				escape(model)
			);
		}
		let simple: [(&str, &str, &str, &BTreeMap<String, u64>); 2] = [
			(
				"atoma_worker_prompt_tokens_total",
				"counter",
				"Prompt tokens of completed jobs.",
				&inner.prompt_tokens,
			),
			(
				"atoma_worker_generated_tokens_total",
				"counter",
				"Tokens generated by completed jobs.",
				&inner.generated_tokens,
			),
		];
		for (name, kind, help, series) in simple {
			header(&mut out, name, kind, help);
			for (model, n) in series {
				let _ = writeln!(out, "{name}{{model=\"{}\"}} {n}", escape(model));
			}
		}
		let gauges: [(&str, &str, &BTreeMap<String, i64>); 2] = [
			("atoma_worker_queue_depth", "Jobs waiting in the model's queue.", &inner.queue_depth),
			(
				"atoma_worker_jobs_running",
				"Jobs generating right now (0 or 1 per model).",
				&inner.running,
			),
		];
		for (name, help, series) in gauges {
			header(&mut out, name, "gauge", help);
			for (model, n) in series {
				let _ = writeln!(out, "{name}{{model=\"{}\"}} {n}", escape(model));
			}
		}
		let histograms: [(&str, &str, &BTreeMap<String, Histogram>); 3] = [
			(
				"atoma_worker_queue_wait_seconds",
				"Time jobs waited in the queue.",
				&inner.queue_wait,
			),
			(
				"atoma_worker_time_to_first_token_seconds",
				"Time from job start to its first token.",
				&inner.time_to_first_token,
			),
			(
				"atoma_worker_job_duration_seconds",
				"Time from job start to its end (prefill and generation).",
				&inner.job_duration,
			),
		];
		for (name, help, series) in histograms {
			header(&mut out, name, "histogram", help);
			for (model, h) in series {
				let model = escape(model);
				for (bound, count) in SECONDS_BUCKETS.iter().zip(h.counts.iter()) {
					let _ =
						writeln!(out, "{name}_bucket{{model=\"{model}\",le=\"{bound}\"}} {count}");
				}
				let _ = writeln!(out, "{name}_bucket{{model=\"{model}\",le=\"+Inf\"}} {}", h.count);
				let _ = writeln!(out, "{name}_sum{{model=\"{model}\"}} {}", h.sum);
				let _ = writeln!(out, "{name}_count{{model=\"{model}\"}} {}", h.count);
			}
		}
		out
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn renders_series() {
		let m = Metrics::new();
		m.http_request("/v1/jobs", "POST", 202);
		m.tokens("smol", 10, 4);
		m.add_queue_depth("smol", 2);
		m.observe_job(
			"smol",
			Duration::from_millis(3),
			Duration::from_millis(40),
			Duration::from_secs(2),
		);
		let text = m.render();
		assert!(text.contains(
			"atoma_worker_http_requests_total{route=\"/v1/jobs\",method=\"POST\",status=\"202\"} 1"
		));
		assert!(text.contains("atoma_worker_generated_tokens_total{model=\"smol\"} 4"));
		assert!(text.contains("atoma_worker_queue_depth{model=\"smol\"} 2"));
		assert!(
			text.contains("atoma_worker_job_duration_seconds_bucket{model=\"smol\",le=\"2.5\"} 1")
		);
		assert!(
			text.contains("atoma_worker_job_duration_seconds_bucket{model=\"smol\",le=\"1\"} 0")
		);
		assert!(text.contains("atoma_worker_job_duration_seconds_count{model=\"smol\"} 1"));
		assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
	}
}
