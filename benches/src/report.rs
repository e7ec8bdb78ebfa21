//! The side-by-side table: each figure for Coffer and OpenBao, p50/p99, and the ratio.

use std::fmt::Write as _;

/// Which direction of a figure is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Rates: more is better.
    Higher,
    /// Times and memory: less is better.
    Lower,
    /// A server-independent reference figure (e.g. the `pgbench` baseline): no advantage.
    Neither,
}

/// What the issue asks of Coffer for a figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// Coffer's advantage (see [`Row::advantage`]) at least this.
    Advantage(f64),
    /// Coffer's value at most this, in the row's unit.
    AtMost(f64),
    /// Coffer's value at least this, in the row's unit.
    AtLeast(f64),
}

/// One server's value for a figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    /// The headline value in the row's unit (rate/s, ms, MiB).
    pub value: f64,
    /// Median request latency in ms (load workloads only).
    pub p50_ms: Option<f64>,
    /// 99th percentile request latency in ms (load workloads only).
    pub p99_ms: Option<f64>,
}

/// A server's cell: not run, failed (with the reason, printed below the table), or measured.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Cell {
    /// Skipped (`--only`, or the workload was not selected).
    #[default]
    NotRun,
    /// The measurement failed.
    Failed(String),
    /// The measurement succeeded.
    Value(Measured),
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Workload / figure name.
    pub workload: String,
    /// Unit of the headline value ("req/s", "ms", "MiB").
    pub unit: &'static str,
    /// Direction of improvement.
    pub better: Better,
    /// What the issue asks of Coffer for this figure, if anything.
    pub target: Option<Goal>,
    /// Coffer's value.
    pub coffer: Cell,
    /// OpenBao's value.
    pub openbao: Cell,
}

impl Row {
    /// Coffer's advantage: coffer/openbao for rates, openbao/coffer for times and memory,
    /// so above 1 always means Coffer is better.
    #[must_use]
    pub fn advantage(&self) -> Option<f64> {
        let (Cell::Value(c), Cell::Value(o)) = (&self.coffer, &self.openbao) else {
            return None;
        };
        let (num, den) = match self.better {
            Better::Higher => (c.value, o.value),
            Better::Lower => (o.value, c.value),
            Better::Neither => return None,
        };
        (den > 0.0).then(|| num / den)
    }

    /// The target column: the goal and, when measured, whether Coffer meets it.
    fn goal_text(&self) -> String {
        let coffer = match &self.coffer {
            Cell::Value(m) => Some(m.value),
            _ => None,
        };
        let (text, met) = match self.target {
            None => return "-".to_owned(),
            Some(Goal::Advantage(t)) => (format!(">={t}x"), self.advantage().map(|a| a >= t)),
            Some(Goal::AtMost(t)) => (
                format!("<={}", fmt_value(t, self.unit)),
                coffer.map(|c| c <= t),
            ),
            Some(Goal::AtLeast(t)) => (
                format!(">={}", fmt_value(t, self.unit)),
                coffer.map(|c| c >= t),
            ),
        };
        match met {
            None => text,
            Some(true) => format!("{text} met"),
            Some(false) => format!("{text} MISSED"),
        }
    }
}

/// The whole report: table rows plus free-form notes printed under it.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Table rows in order.
    pub rows: Vec<Row>,
    /// Lines printed after the table (details, CPU use, failures, baselines).
    pub notes: Vec<String>,
}

fn fmt_value(v: f64, unit: &str) -> String {
    match unit {
        "req/s" => format!("{v:.0}/s"),
        "s" => format!("{v:.2} s"),
        _ => format!("{v:.1} {unit}"),
    }
}

fn fmt_ms(v: Option<f64>) -> String {
    v.map_or_else(
        || "-".to_owned(),
        |ms| {
            if ms < 10.0 {
                format!("{ms:.2} ms")
            } else {
                format!("{ms:.1} ms")
            }
        },
    )
}

fn cells(cell: &Cell, unit: &str) -> [String; 3] {
    match cell {
        Cell::NotRun => ["not run".into(), "-".into(), "-".into()],
        Cell::Failed(_) => ["FAILED".into(), "-".into(), "-".into()],
        Cell::Value(m) => [fmt_value(m.value, unit), fmt_ms(m.p50_ms), fmt_ms(m.p99_ms)],
    }
}

impl Report {
    /// Renders the table and notes as plain text.
    #[must_use]
    pub fn render(&self) -> String {
        let header: Vec<String> = [
            "workload",
            "coffer",
            "p50",
            "p99",
            "openbao",
            "p50",
            "p99",
            "coffer adv.",
            "target",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let mut lines = vec![header];
        for r in &self.rows {
            let mut line = vec![r.workload.clone()];
            line.extend(cells(&r.coffer, r.unit));
            line.extend(cells(&r.openbao, r.unit));
            let adv = r.advantage();
            line.push(adv.map_or_else(|| "-".to_owned(), |a| format!("{a:.2}x")));
            line.push(r.goal_text());
            lines.push(line);
        }
        let cols = lines.first().map_or(0, Vec::len);
        let widths: Vec<usize> = (0..cols)
            .map(|c| {
                lines
                    .iter()
                    .filter_map(|l| l.get(c))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for (n, l) in lines.iter().enumerate() {
            let cells: Vec<String> = l
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(c, (s, w))| {
                    if c == 0 {
                        format!("{s:<w$}")
                    } else {
                        format!("{s:>w$}")
                    }
                })
                .collect();
            let _ = writeln!(out, "{}", cells.join(" | ").trim_end());
            if n == 0 {
                let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
                let _ = writeln!(out, "{}", rule.join("-+-"));
            }
        }
        for r in &self.rows {
            for (label, cell) in [("coffer", &r.coffer), ("openbao", &r.openbao)] {
                if let Cell::Failed(why) = cell {
                    let _ = writeln!(out, "{} / {label} FAILED: {why}", r.workload);
                }
            }
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for n in &self.notes {
                let _ = writeln!(out, "{n}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(value: f64) -> Cell {
        Cell::Value(Measured {
            value,
            p50_ms: Some(0.5),
            p99_ms: Some(12.0),
        })
    }

    #[test]
    fn advantage_direction() {
        let mut r = Row {
            workload: "health".into(),
            unit: "req/s",
            better: Better::Higher,
            target: Some(Goal::Advantage(2.5)),
            coffer: v(300.0),
            openbao: v(100.0),
        };
        assert_eq!(r.advantage(), Some(3.0));
        r.better = Better::Lower;
        assert!((r.advantage().unwrap() - 1.0 / 3.0).abs() < 1e-9);
        r.coffer = Cell::NotRun;
        assert_eq!(r.advantage(), None);
    }

    #[test]
    fn absolute_goals_and_reference_rows() {
        let mut r = Row {
            workload: "lease-restore".into(),
            unit: "ms",
            better: Better::Lower,
            target: Some(Goal::AtMost(1000.0)),
            coffer: v(400.0),
            openbao: v(2000.0),
        };
        assert_eq!(r.goal_text(), "<=1000.0 ms met");
        r.coffer = v(1500.0);
        assert_eq!(r.goal_text(), "<=1000.0 ms MISSED");
        r.coffer = Cell::NotRun;
        assert_eq!(r.goal_text(), "<=1000.0 ms");
        r.unit = "%";
        r.target = Some(Goal::AtLeast(70.0));
        r.coffer = v(85.0);
        assert_eq!(r.goal_text(), ">=70.0 % met");
        r.better = Better::Neither;
        assert_eq!(r.advantage(), None);
    }

    #[test]
    fn render_shows_values_failures_and_targets() {
        let rep = Report {
            rows: vec![
                Row {
                    workload: "start".into(),
                    unit: "ms",
                    better: Better::Lower,
                    target: Some(Goal::Advantage(10.0)),
                    coffer: Cell::Failed("binary missing".into()),
                    openbao: v(230.0),
                },
                Row {
                    workload: "health".into(),
                    unit: "req/s",
                    better: Better::Higher,
                    target: Some(Goal::Advantage(2.5)),
                    coffer: v(30000.0),
                    openbao: v(10000.0),
                },
            ],
            notes: vec!["note line".into()],
        };
        let text = rep.render();
        assert!(text.contains("FAILED"), "{text}");
        assert!(
            text.contains("start / coffer FAILED: binary missing"),
            "{text}"
        );
        assert!(text.contains("230.0 ms"), "{text}");
        assert!(text.contains("3.00x"), "{text}");
        assert!(text.contains(">=2.5x met"), "{text}");
        assert!(text.contains("12.0 ms"), "{text}");
        assert!(text.ends_with("note line\n"), "{text}");
    }
}
