//! Token estimates and budgets. Estimates are `ceil(characters / 4)`, the usual rule of
//! thumb; a budget caps the estimate of one prompt (per step) and the sum over a protocol
//! run. `strict` refuses a prompt over budget (the step fails before any engine runs),
//! `warn` lets it through with a warning, `off` does not check.

use std::str::FromStr;

pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetMode {
    Strict,
    Warn,
    Off,
}

impl FromStr for BudgetMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "strict" => Ok(BudgetMode::Strict),
            "warn" => Ok(BudgetMode::Warn),
            "off" => Ok(BudgetMode::Off),
            other => Err(format!("budget mode `{other}` is strict, warn or off")),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub mode: BudgetMode,
    /// Most tokens one prompt may cost.
    pub per_step: Option<u64>,
    /// Most tokens all prompts of one protocol run may cost together.
    pub per_protocol: Option<u64>,
}

/// The outcome of checking a prompt against a budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetCheck {
    Ok {
        estimate: u64,
    },
    /// Over budget, allowed (`warn`): the message says by how much.
    Warn {
        estimate: u64,
        message: String,
    },
    /// Over budget, refused (`strict`).
    Refuse {
        estimate: u64,
        message: String,
    },
}

impl Budget {
    /// Checks `prompt` given the tokens the protocol run has already spent.
    pub fn check(&self, prompt: &str, spent_by_protocol: u64) -> BudgetCheck {
        let estimate = estimate_tokens(prompt);
        if self.mode == BudgetMode::Off {
            return BudgetCheck::Ok { estimate };
        }
        let mut over = Vec::new();
        if let Some(limit) = self.per_step.filter(|l| estimate > *l) {
            over.push(format!("prompt ~{estimate} tokens > step budget {limit}"));
        }
        if let Some(limit) = self
            .per_protocol
            .filter(|l| spent_by_protocol + estimate > *l)
        {
            over.push(format!(
                "protocol total ~{} tokens > protocol budget {limit}",
                spent_by_protocol + estimate
            ));
        }
        if over.is_empty() {
            return BudgetCheck::Ok { estimate };
        }
        let message = over.join("; ");
        match self.mode {
            BudgetMode::Strict => BudgetCheck::Refuse { estimate, message },
            _ => BudgetCheck::Warn { estimate, message },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_round_up() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(estimate_tokens("ééééé"), 2, "characters, not bytes");
    }

    #[test]
    fn budgets_by_mode_step_and_protocol_total() {
        let prompt = "x".repeat(400); // ~100 tokens
        let strict = Budget {
            mode: BudgetMode::Strict,
            per_step: Some(50),
            per_protocol: None,
        };
        assert!(matches!(
            strict.check(&prompt, 0),
            BudgetCheck::Refuse { estimate: 100, .. }
        ));
        let warn = Budget {
            mode: BudgetMode::Warn,
            ..strict
        };
        assert!(matches!(warn.check(&prompt, 0), BudgetCheck::Warn { .. }));
        let off = Budget {
            mode: BudgetMode::Off,
            ..strict
        };
        assert_eq!(off.check(&prompt, 0), BudgetCheck::Ok { estimate: 100 });
        // The protocol budget counts what earlier prompts spent.
        let total = Budget {
            mode: BudgetMode::Strict,
            per_step: None,
            per_protocol: Some(250),
        };
        assert_eq!(total.check(&prompt, 100), BudgetCheck::Ok { estimate: 100 });
        let BudgetCheck::Refuse { message, .. } = total.check(&prompt, 200) else {
            panic!("over the protocol budget")
        };
        assert!(
            message.contains("~300 tokens > protocol budget 250"),
            "{message}"
        );
        assert_eq!("WARN".parse::<BudgetMode>(), Ok(BudgetMode::Warn));
        assert!("loose".parse::<BudgetMode>().is_err());
    }
}
