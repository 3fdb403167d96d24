//! How well a transcript matches what was said: known sentences (for espeak-ng to speak) and
//! the word error rate, shared by the accuracy tests and `reel bench transcribe`.

/// Sentences of an ordinary work message, with the words a listener would write down.
pub const SENTENCES: &[&str] = &[
    "The quarterly report is ready for review.",
    "Please send your comments before Friday afternoon.",
    "We moved the launch to the second week of March.",
    "The new dashboard shows every customer in one place.",
    "Our budget for the spring campaign is nearly spent.",
    "Thank you all for the careful work on the migration.",
    "Next time we will start with the marketing numbers.",
    "Remember to book the large meeting room early.",
    "The printer on the third floor is working again.",
    "Sarah will present the design review on Tuesday.",
    "Our support team answered every ticket this week.",
    "Let us keep this message short and clear.",
];

/// Words without case or punctuation, as WER compares them.
pub fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase()).filter(|w| !w.is_empty()).collect()
}

/// Word error rate: (substitutions + insertions + deletions) / words said.
pub fn wer(truth: &[String], got: &[String]) -> f64 {
    let mut prev: Vec<usize> = (0..=got.len()).collect();
    for i in 1..=truth.len() {
        let mut cur = vec![i; got.len() + 1];
        for j in 1..=got.len() {
            cur[j] = (prev[j - 1] + usize::from(truth[i - 1] != got[j - 1])).min(prev[j] + 1).min(cur[j - 1] + 1);
        }
        prev = cur;
    }
    prev[got.len()] as f64 / truth.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wer_counts_each_kind_of_error() {
        let t = words("the cat sat on the mat.");
        assert_eq!(wer(&t, &words("The cat sat on the mat")), 0.0);
        assert!((wer(&t, &words("the cat sat on mat")) - 1.0 / 6.0).abs() < 1e-9);
        assert!((wer(&t, &words("a cat sat on the big mat")) - 2.0 / 6.0).abs() < 1e-9);
    }
}
