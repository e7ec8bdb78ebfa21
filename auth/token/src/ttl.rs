//! OpenBao's TTL arithmetic (`sdk/framework/lease.go` `CalculateTTL`), in whole seconds.

use std::time::Duration;

use engine_sdk::MountInfo;

use crate::TokenError;

/// OpenBao's system default and maximum lease TTL (32 days), used when a mount reports none.
pub const SYSTEM_MAX_TTL: Duration = Duration::from_secs(768 * 3600);

/// The mount's (or system's) TTL settings a token is created or renewed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlLimits {
    /// TTL when neither the request nor the backend gives one.
    pub default_ttl: Duration,
    /// Cap on a token's life from its creation (before role and explicit caps).
    pub max_ttl: Duration,
}

impl TtlLimits {
    /// The effective limits of `mount`; zero values fall back to the system default (768h).
    pub fn of_mount(mount: &MountInfo) -> Self {
        let or_system = |d: Duration| if d.is_zero() { SYSTEM_MAX_TTL } else { d };
        Self {
            default_ttl: or_system(mount.default_lease_ttl),
            max_ttl: or_system(mount.max_lease_ttl),
        }
    }
}

impl Default for TtlLimits {
    fn default() -> Self {
        Self {
            default_ttl: SYSTEM_MAX_TTL,
            max_ttl: SYSTEM_MAX_TTL,
        }
    }
}

/// Inputs of one TTL computation, in seconds (0 = unset).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TtlInput {
    /// Requested increment (renewals), measured from now.
    pub(crate) increment: u64,
    /// The backend's (or token's) own TTL.
    pub(crate) backend_ttl: u64,
    /// Periodic tokens' period.
    pub(crate) period: u64,
    /// A backend or role cap tighter than the mount's.
    pub(crate) backend_max_ttl: u64,
    /// Hard cap from the token's creation.
    pub(crate) explicit_max_ttl: u64,
    /// When the token was issued (the max TTL counts from here).
    pub(crate) start: u64,
    /// Now.
    pub(crate) now: u64,
}

/// The TTL to grant, with OpenBao's warnings when a cap applied.
pub(crate) fn calculate(limits: &TtlLimits, i: TtlInput) -> Result<(u64, Vec<String>), TokenError> {
    let mut warnings = Vec::new();
    let mut max = limits.max_ttl.as_secs();
    if i.backend_max_ttl > 0 && i.backend_max_ttl < max {
        max = i.backend_max_ttl;
    }
    if i.explicit_max_ttl > 0 && i.explicit_max_ttl < max {
        max = i.explicit_max_ttl;
    }
    if max == 0 {
        return Err(TokenError::invalid("max TTL must be greater than zero"));
    }
    let (mut ttl, max_valid) = if i.period > 0 {
        let mut period = i.period;
        if period > max {
            warnings.push(format!(
                "period of {:?} exceeded the effective max_ttl of {:?}; period value is capped accordingly",
                human(period),
                human(max)
            ));
            period = max;
        }
        let limit = (i.explicit_max_ttl > 0).then(|| i.start.saturating_add(i.explicit_max_ttl));
        (period, limit)
    } else {
        let ttl = if i.increment > 0 {
            i.increment
        } else if i.backend_ttl > 0 {
            i.backend_ttl
        } else {
            limits.default_ttl.as_secs()
        };
        (ttl, Some(i.start.saturating_add(max)))
    };
    if let Some(limit) = max_valid {
        if limit <= i.now {
            return Err(TokenError::invalid("past the max TTL, cannot renew"));
        }
        let left = limit - i.now;
        if ttl > left {
            warnings.push(format!(
                "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
                human(ttl),
                human(left)
            ));
            ttl = left;
        }
    }
    Ok((ttl, warnings))
}

/// A duration as OpenBao prints it in warnings: Go's format without zero trailing units (`12h`, `4h46m41s`).
pub(crate) fn human(secs: u64) -> String {
    let mut s = api_spec::duration::format(Duration::from_secs(secs));
    if s == "0s" {
        return s;
    }
    if let Some(stripped) = s.strip_suffix("m0s") {
        s = format!("{stripped}m");
    }
    if let Some(idx) = s.find("h0m") {
        let (head, tail) = s.split_at(idx + 1);
        s = format!("{head}{}", tail.get(2..).unwrap_or(""));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(default: u64, max: u64) -> TtlLimits {
        TtlLimits {
            default_ttl: Duration::from_secs(default),
            max_ttl: Duration::from_secs(max),
        }
    }

    #[test]
    fn human_trims_zero_units() {
        assert_eq!(human(0), "0s");
        assert_eq!(human(43200), "12h");
        assert_eq!(human(17201), "4h46m41s");
        assert_eq!(human(5400), "1h30m");
        assert_eq!(human(3605), "1h5s");
        assert_eq!(human(90), "1m30s");
        assert_eq!(human(120), "2m");
    }

    #[test]
    fn default_then_backend_then_increment() {
        let l = limits(100, 1000);
        let base = TtlInput {
            start: 10,
            now: 10,
            ..TtlInput::default()
        };
        assert_eq!(calculate(&l, base).unwrap().0, 100);
        let with_backend = TtlInput {
            backend_ttl: 50,
            ..base
        };
        assert_eq!(calculate(&l, with_backend).unwrap().0, 50);
        let with_inc = TtlInput {
            increment: 70,
            ..with_backend
        };
        assert_eq!(calculate(&l, with_inc).unwrap().0, 70);
    }

    #[test]
    fn capped_with_warning_and_past_max() {
        let l = limits(100, 1000);
        let (ttl, w) = calculate(
            &l,
            TtlInput {
                increment: 5000,
                start: 0,
                now: 400,
                ..TtlInput::default()
            },
        )
        .unwrap();
        assert_eq!(ttl, 600);
        assert_eq!(
            w,
            vec![
                "TTL of \"1h23m20s\" exceeded the effective max_ttl of \"10m\"; TTL value is capped accordingly"
            ]
        );
        let err = calculate(
            &l,
            TtlInput {
                start: 0,
                now: 1000,
                ..TtlInput::default()
            },
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "past the max TTL, cannot renew");
        assert!(calculate(&limits(1, 0), TtlInput::default()).is_err());
    }

    #[test]
    fn periodic_ignores_mount_max_from_start() {
        let l = limits(100, 1000);
        // Long after the mount max has passed, a periodic token still gets its period.
        let (ttl, w) = calculate(
            &l,
            TtlInput {
                period: 300,
                start: 0,
                now: 50_000,
                ..TtlInput::default()
            },
        )
        .unwrap();
        assert_eq!((ttl, w.len()), (300, 0));
        // The period itself is capped by the max.
        let (ttl, w) = calculate(
            &l,
            TtlInput {
                period: 5000,
                ..TtlInput::default()
            },
        )
        .unwrap();
        assert_eq!(ttl, 1000);
        assert!(w[0].starts_with("period of \"1h23m20s\" exceeded"));
        // An explicit max still bounds a periodic token from its creation.
        let (ttl, _) = calculate(
            &l,
            TtlInput {
                period: 300,
                explicit_max_ttl: 500,
                start: 0,
                now: 400,
                ..TtlInput::default()
            },
        )
        .unwrap();
        assert_eq!(ttl, 100);
    }
}
