//! Cloudflare Containers instance types and what running one 24/7 costs, from the published
//! Workers Paid rates (memory, CPU and disk per second), before the plan's included allowance.

/// Seconds in a 30-day month.
const MONTH_SECONDS: f64 = 30.0 * 24.0 * 3600.0;
const USD_PER_GIB_SECOND: f64 = 0.000_002_5;
const USD_PER_VCPU_SECOND: f64 = 0.000_020;
const USD_PER_GB_DISK_SECOND: f64 = 0.000_000_07;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InstanceType {
    pub name: &'static str,
    pub vcpu: f64,
    pub memory_gib: f64,
    pub disk_gb: f64,
}

/// Smallest first; the gateway idles at about 10 MB of memory, so `lite` fits.
pub const INSTANCE_TYPES: &[InstanceType] = &[
    InstanceType { name: "lite", vcpu: 1.0 / 16.0, memory_gib: 0.25, disk_gb: 2.0 },
    InstanceType { name: "basic", vcpu: 0.25, memory_gib: 1.0, disk_gb: 4.0 },
    InstanceType { name: "standard-1", vcpu: 0.5, memory_gib: 4.0, disk_gb: 8.0 },
    InstanceType { name: "standard-2", vcpu: 1.0, memory_gib: 6.0, disk_gb: 12.0 },
    InstanceType { name: "standard-3", vcpu: 2.0, memory_gib: 8.0, disk_gb: 16.0 },
    InstanceType { name: "standard-4", vcpu: 4.0, memory_gib: 12.0, disk_gb: 20.0 },
];

pub const RECOMMENDED: &str = "lite";

impl InstanceType {
    pub fn find(name: &str) -> Option<&'static InstanceType> {
        INSTANCE_TYPES.iter().find(|instance| instance.name == name)
    }

    /// US dollars for a month awake around the clock with the CPU fully busy: an upper bound.
    pub fn monthly_usd(&self) -> f64 {
        MONTH_SECONDS
            * (self.memory_gib * USD_PER_GIB_SECOND
                + self.vcpu * USD_PER_VCPU_SECOND
                + self.disk_gb * USD_PER_GB_DISK_SECOND)
    }

    pub fn describe(&self) -> String {
        let memory = if self.memory_gib < 1.0 {
            format!("{} MiB", (self.memory_gib * 1024.0).round())
        } else {
            format!("{} GiB", self.memory_gib)
        };
        format!(
            "{:<10}  {:>6} vCPU  {:>8}  {:>3} GB disk  ≤ ${:.2}/month 24/7",
            self.name,
            format!("{:.4}", self.vcpu).trim_end_matches('0').trim_end_matches('.'),
            memory,
            self.disk_gb,
            self.monthly_usd()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lite_is_the_cheapest_and_costs_a_few_dollars() {
        let lite = InstanceType::find("lite").unwrap();
        assert!((lite.monthly_usd() - 5.22).abs() < 0.01, "{}", lite.monthly_usd());
        assert!(INSTANCE_TYPES.windows(2).all(|pair| pair[0].monthly_usd() < pair[1].monthly_usd()));
        assert!(lite.describe().contains("256 MiB"));
        assert!(InstanceType::find("huge").is_none());
    }
}
