//! The node's metrics: named counters and gauges with labels, served by `sys/metrics` as OpenBao's JSON
//! (`Timestamp`, `Gauges`, `Points`, `Counters`, `Samples`) or as Prometheus text.
//!
//! Names are OpenBao's dotted ones (`vault.audit.log_request_failure`); the Prometheus form replaces every
//! character a metric name cannot hold by `_` (`vault_audit_log_request_failure`).
//!
//! Two ways to report a value:
//!
//! - **Handles**, for events counted on the hot path. Register once (a lock is taken only then), keep the
//!   handle, bump it with one relaxed atomic operation:
//!
//!   ```
//!   let metrics = server_core::Metrics::new();
//!   let revoked = metrics.counter("vault.expire.revoke", &[("mount", "database/")]);
//!   revoked.inc();
//!   assert_eq!(revoked.get(), 1);
//!   ```
//!
//! - **Collectors**, for values that already live elsewhere (a device list, a queue length): a closure called at
//!   each scrape, outside the registry's lock, that reports what it sees:
//!
//!   ```
//!   let metrics = server_core::Metrics::new();
//!   metrics.collector(|out| out.gauge("vault.expire.num_leases", &[], 3.0));
//!   assert!(metrics.prometheus().contains("vault_expire_num_leases 3"));
//!   ```
//!
//! Registering the same name and labels again returns the same handle (labels are compared in any order). A
//! name is either a counter or a gauge: asking for the other kind logs a warning and returns a handle that is
//! not exported, so a naming mistake never fails a request.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use serde_json::{Map, Value, json};

/// Content type of [`Metrics::prometheus`] (Prometheus text exposition format 0.0.4).
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A monotonically increasing count. Cloning shares the value.
#[derive(Clone, Debug, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down (stored as `f64` bits). Cloning shares the value.
#[derive(Clone, Debug, Default)]
pub struct Gauge(Arc<AtomicU64>);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }

    /// Adds `d` (negative to subtract).
    pub fn add(&self, d: f64) {
        // A compare-and-swap loop: f64 has no atomic add.
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + d).to_bits())
            });
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// What a sample measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SampleValue {
    /// A counter's total.
    Counter(u64),
    /// A gauge's value.
    Gauge(f64),
}

/// One series' value at scrape time.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Dotted name (`vault.audit.log_request_failure`).
    pub name: String,
    /// Labels, sorted by name.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: SampleValue,
}

/// What a collector reports into, at scrape time.
#[derive(Debug, Default)]
pub struct Collect {
    samples: Vec<Sample>,
}

impl Collect {
    /// Reports a counter's total.
    pub fn counter(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.samples.push(Sample {
            name: name.to_owned(),
            labels: sorted(labels),
            value: SampleValue::Counter(value),
        });
    }

    /// Reports a gauge's value.
    pub fn gauge(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.samples.push(Sample {
            name: name.to_owned(),
            labels: sorted(labels),
            value: SampleValue::Gauge(value),
        });
    }
}

type Collector = Arc<dyn Fn(&mut Collect) + Send + Sync>;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Counter,
    Gauge,
}

#[derive(Clone)]
enum Series {
    Counter(Counter),
    Gauge(Gauge),
}

#[derive(Default)]
struct Inner {
    /// By (name, sorted labels).
    series: BTreeMap<(String, Vec<(String, String)>), Series>,
    /// By Prometheus name: one kind per exported family.
    kinds: BTreeMap<String, Kind>,
    collectors: Vec<Collector>,
}

/// The registry. Share it as `Arc<Metrics>`; registration and scrapes take a lock, handles never do.
pub struct Metrics {
    started: Instant,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let series = self.inner.lock().map(|i| i.series.len()).unwrap_or(0);
        f.debug_struct("Metrics")
            .field("series", &series)
            .finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            inner: Mutex::new(Inner::default()),
        }
    }
}

fn sorted(labels: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut l: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    l.sort();
    l
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The counter `name` with `labels`, registered on first use.
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> Counter {
        match self.series(name, labels, Kind::Counter) {
            Some(Series::Counter(c)) => c,
            _ => Counter::default(),
        }
    }

    /// The gauge `name` with `labels`, registered on first use (starting at 0).
    pub fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> Gauge {
        match self.series(name, labels, Kind::Gauge) {
            Some(Series::Gauge(g)) => g,
            _ => Gauge::default(),
        }
    }

    /// Adds a collector, called at every scrape (never while the registry is locked, so it may register
    /// series itself). Its samples are reported beside the registered series.
    pub fn collector(&self, f: impl Fn(&mut Collect) + Send + Sync + 'static) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.collectors.push(Arc::new(f));
        }
    }

    fn series(&self, name: &str, labels: &[(&str, &str)], kind: Kind) -> Option<Series> {
        let mut inner = self.inner.lock().ok()?;
        let family = prometheus_name(name);
        match inner.kinds.get(&family) {
            Some(k) if *k != kind => {
                tracing::warn!(metric = name, registered = ?k, requested = ?kind, "metric registered with another kind; this handle is not exported");
                return None;
            }
            Some(_) => {}
            None => {
                inner.kinds.insert(family, kind);
            }
        }
        let series = inner
            .series
            .entry((name.to_owned(), sorted(labels)))
            .or_insert_with(|| match kind {
                Kind::Counter => Series::Counter(Counter::default()),
                Kind::Gauge => Series::Gauge(Gauge::default()),
            });
        Some(series.clone())
    }

    /// Every series' current value, registered and collected, sorted by name then labels. A collected sample
    /// whose kind contradicts a registered name is dropped.
    pub fn snapshot(&self) -> Vec<Sample> {
        let (mut samples, collectors, kinds) = match self.inner.lock() {
            Ok(inner) => (
                inner
                    .series
                    .iter()
                    .map(|((name, labels), s)| Sample {
                        name: name.clone(),
                        labels: labels.clone(),
                        value: match s {
                            Series::Counter(c) => SampleValue::Counter(c.get()),
                            Series::Gauge(g) => SampleValue::Gauge(g.get()),
                        },
                    })
                    .collect::<Vec<_>>(),
                inner.collectors.clone(),
                inner.kinds.clone(),
            ),
            Err(_) => return Vec::new(),
        };
        let mut out = Collect::default();
        for c in &collectors {
            c(&mut out);
        }
        samples.extend(out.samples.into_iter().filter(|s| {
            let kind = match s.value {
                SampleValue::Counter(_) => Kind::Counter,
                SampleValue::Gauge(_) => Kind::Gauge,
            };
            kinds
                .get(&prometheus_name(&s.name))
                .is_none_or(|k| *k == kind)
        }));
        samples.sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
        samples
    }

    /// The Prometheus text exposition (format 0.0.4) of [`Metrics::snapshot`]: one `# HELP`/`# TYPE` pair per
    /// family, then its series.
    pub fn prometheus(&self) -> String {
        let mut families: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
        for s in self.snapshot() {
            families
                .entry(prometheus_name(&s.name))
                .or_default()
                .push(s);
        }
        let mut out = String::new();
        for (family, samples) in families {
            let kind = match samples.first().map(|s| s.value) {
                Some(SampleValue::Gauge(_)) => "gauge",
                _ => "counter",
            };
            let _ = writeln!(out, "# HELP {family} {family}");
            let _ = writeln!(out, "# TYPE {family} {kind}");
            for s in samples {
                out.push_str(&family);
                if !s.labels.is_empty() {
                    out.push('{');
                    for (i, (k, v)) in s.labels.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        let _ = write!(out, "{}=\"{}\"", label_name(k), escape_label(v));
                    }
                    out.push('}');
                }
                out.push(' ');
                match s.value {
                    SampleValue::Counter(n) => {
                        let _ = write!(out, "{n}");
                    }
                    SampleValue::Gauge(g) => out.push_str(&prometheus_float(g)),
                }
                out.push('\n');
            }
        }
        out
    }

    /// [`Metrics::snapshot`] in OpenBao's JSON layout (go-metrics' in-memory summary). OpenBao reports a 10 s
    /// interval; Coffer reports totals since the node started: a counter's `Count` and `Sum` are its total,
    /// `Rate` is per second since start, and each event counts as one (`Min`, `Max`, `Mean` are 1 once it moved).
    pub fn json(&self, now: SystemTime) -> Value {
        let uptime = self.started.elapsed().as_secs_f64().max(1.0);
        let labels = |l: &[(String, String)]| -> Map<String, Value> {
            l.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect()
        };
        let mut gauges = Vec::new();
        let mut counters = Vec::new();
        for s in self.snapshot() {
            match s.value {
                SampleValue::Gauge(v) => gauges.push(json!({
                    "Name": s.name,
                    "Value": if v.is_finite() { json!(v) } else { Value::Null },
                    "Labels": labels(&s.labels),
                })),
                SampleValue::Counter(n) => {
                    #[allow(
                        clippy::cast_precision_loss,
                        reason = "a count reported as a float, as go-metrics does"
                    )]
                    let sum = n as f64;
                    let unit = if n > 0 { 1.0 } else { 0.0 };
                    counters.push(json!({
                        "Name": s.name,
                        "Count": n,
                        "Rate": sum / uptime,
                        "Sum": sum,
                        "Min": unit,
                        "Max": unit,
                        "Mean": unit,
                        "Stddev": 0.0,
                        "Labels": labels(&s.labels),
                    }));
                }
            }
        }
        json!({
            "Timestamp": go_time(now),
            "Gauges": gauges,
            "Points": [],
            "Counters": counters,
            "Samples": [],
        })
    }
}

/// `name` as a Prometheus metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`, anything else becoming `_`.
pub fn prometheus_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// A label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn label_name(name: &str) -> String {
    prometheus_name(name).replace(':', "_")
}

fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn prometheus_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// Go's `time.Time.String()` in UTC, to the second: `2006-01-02 15:04:05 +0000 UTC`.
fn go_time(t: SystemTime) -> String {
    let dt = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} +0000 UTC",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_share_their_series_whatever_the_label_order() {
        let m = Metrics::new();
        let a = m.counter("vault.x", &[("a", "1"), ("b", "2")]);
        let b = m.counter("vault.x", &[("b", "2"), ("a", "1")]);
        a.inc();
        b.add(2);
        assert_eq!(a.get(), 3);
        let other = m.counter("vault.x", &[("a", "other")]);
        assert_eq!(other.get(), 0);
        let snap = m.snapshot();
        assert_eq!(snap.len(), 2);
        assert_eq!(
            snap[0].labels,
            vec![("a".into(), "1".into()), ("b".into(), "2".into())]
        );
        assert_eq!(snap[0].value, SampleValue::Counter(3));
    }

    #[test]
    fn a_name_keeps_its_kind() {
        let m = Metrics::new();
        m.counter("vault.k", &[]).inc();
        let g = m.gauge("vault.k", &[("x", "y")]);
        g.set(5.0);
        // The gauge handle works but is not exported under the counter's name.
        assert!((g.get() - 5.0).abs() < f64::EPSILON);
        assert_eq!(m.snapshot().len(), 1);
        // Collected samples of the wrong kind are dropped too.
        m.collector(|out| out.gauge("vault.k", &[], 1.0));
        assert_eq!(m.snapshot().len(), 1);
    }

    #[test]
    fn gauges_go_up_and_down() {
        let m = Metrics::new();
        let g = m.gauge("vault.g", &[]);
        g.add(2.5);
        g.add(-1.0);
        assert!((g.get() - 1.5).abs() < f64::EPSILON);
        g.set(-3.0);
        assert!((m.gauge("vault.g", &[]).get() + 3.0).abs() < f64::EPSILON);
    }

    #[test]
    fn prometheus_text_has_one_type_per_family_and_escaped_labels() {
        let m = Metrics::new();
        m.counter("vault.audit.log_request_failure", &[]);
        m.counter(
            "vault.audit.device.log_request_failure",
            &[("path", "a\"b\\c\n/")],
        )
        .add(4);
        m.gauge("vault.core.unsealed", &[]).set(1.0);
        m.collector(|out| {
            out.counter(
                "vault.audit.device.log_request_failure",
                &[("path", "z/")],
                7,
            );
        });
        let text = m.prometheus();
        let expected = "\
# HELP vault_audit_device_log_request_failure vault_audit_device_log_request_failure
# TYPE vault_audit_device_log_request_failure counter
vault_audit_device_log_request_failure{path=\"a\\\"b\\\\c\\n/\"} 4
vault_audit_device_log_request_failure{path=\"z/\"} 7
# HELP vault_audit_log_request_failure vault_audit_log_request_failure
# TYPE vault_audit_log_request_failure counter
vault_audit_log_request_failure 0
# HELP vault_core_unsealed vault_core_unsealed
# TYPE vault_core_unsealed gauge
vault_core_unsealed 1
";
        assert_eq!(text, expected);
    }

    #[test]
    fn names_are_sanitized_for_prometheus() {
        assert_eq!(
            prometheus_name("vault.route.read.sys-"),
            "vault_route_read_sys_"
        );
        assert_eq!(prometheus_name("9lives"), "_9lives");
        assert_eq!(prometheus_name(""), "_");
        assert_eq!(label_name("a:b"), "a_b");
        assert_eq!(prometheus_float(f64::NAN), "NaN");
        assert_eq!(prometheus_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(prometheus_float(0.25), "0.25");
    }

    #[test]
    fn json_has_openbaos_layout() {
        let m = Metrics::new();
        m.counter("vault.audit.log_request_failure", &[]).add(3);
        m.gauge("vault.core.active", &[("cluster", "c1")]).set(1.0);
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let v = m.json(at);
        assert_eq!(v["Timestamp"], "2023-11-14 22:13:20 +0000 UTC");
        assert_eq!(v["Points"], json!([]));
        assert_eq!(v["Samples"], json!([]));
        assert_eq!(
            v["Gauges"],
            json!([{"Name": "vault.core.active", "Value": 1.0, "Labels": {"cluster": "c1"}}])
        );
        let c = &v["Counters"][0];
        assert_eq!(c["Name"], "vault.audit.log_request_failure");
        assert_eq!(c["Count"], 3);
        assert_eq!(c["Sum"], 3.0);
        assert_eq!(c["Labels"], json!({}));
        for k in ["Rate", "Min", "Max", "Mean", "Stddev"] {
            assert!(c[k].is_number(), "{k}");
        }
    }

    #[test]
    fn collectors_may_register_series() {
        let m = Metrics::new();
        let inner = m.clone();
        m.collector(move |out| {
            // Would deadlock if collectors ran under the registry's lock.
            inner.counter("vault.inner", &[]);
            out.counter("vault.collected", &[], 1);
        });
        let names: Vec<String> = m.snapshot().into_iter().map(|s| s.name).collect();
        assert_eq!(names, vec!["vault.collected".to_owned()]);
        let names: Vec<String> = m.snapshot().into_iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            vec!["vault.collected".to_owned(), "vault.inner".to_owned()]
        );
    }
}
