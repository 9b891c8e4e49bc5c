/* MAMA-MIA Task 1 / Task 2 fairness and ranking against the Python transcription of the official
formulas (`tools/golden/make_metrics_fixtures.py`, from `/work/shared/reference/mamamia.md` §2.2–§2.4, pandas
3.1 groupby with observed groups, scikit-learn 1.9.1 balanced accuracy / confusion matrix / ROC AUC). The
fixture has 48 synthetic cases with missing ages, ages on bin edges, every menopause text form, missing
densities, missing pCR, NormHD > 1 and single-class subgroups. Menopause labels come from the fixture (the
mapping itself lives in `nnunet_preproc::mamamia::menopause_group`).
*/
mod common;

use common::{load, num, rel_diff};
use medmetrics::{
    task1_score, task2_score, AgeGroup, BreastDensity, Subgroups, Task1Case, Task2Case,
};
use serde_json::Value;

fn subgroups(c: &Value, menopause_key: &str) -> Subgroups {
    let age = match num(&c["age"]) {
        a if a.is_nan() => None,
        a => Some(AgeGroup::from_age(a).unwrap().label().to_string()),
    };
    assert_eq!(
        age.as_deref(),
        c["age_group"].as_str(),
        "age bin of {}",
        c["age"]
    );
    Subgroups {
        age,
        menopausal_status: c[menopause_key].as_str().map(str::to_string),
        breast_density: c["breast_density"]
            .as_str()
            .map(|d| BreastDensity::parse(d).unwrap().label().to_string()),
    }
}

fn close(what: &str, e: &Value, g: f64) -> f64 {
    let d = rel_diff(num(e), g);
    assert!(d <= 1e-12, "{what}: expected {e}, got {g}");
    d
}

#[test]
fn task1_matches_transcription() {
    let data = load("fairness.json");
    let cases: Vec<Task1Case> = data["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Task1Case {
            dice: num(&c["dice"]),
            norm_hd: num(&c["norm_hd"]),
            subgroups: subgroups(c, "menopause_task1"),
        })
        .collect();
    let s = task1_score(&cases).unwrap();
    let e = &data["task1"];
    let mut m = close("performance", &e["performance"], s.performance);
    m = m.max(close("fairness", &e["fairness"], s.fairness));
    m = m.max(close("ranking", &e["ranking"], s.ranking));
    for v in &s.variables {
        let name = v.variable.name();
        m = m.max(close(name, &e["per_variable"][name], v.fairness));
        let groups = e["groups"][name].as_object().unwrap();
        assert_eq!(groups.len(), v.groups.len(), "{name}: group count");
        for g in &v.groups {
            let eg = &groups[&g.label];
            assert_eq!(
                eg["n"].as_u64().unwrap() as usize,
                g.n,
                "{name}/{}",
                g.label
            );
            m = m.max(close("group dice", &eg["dice"], g.mean_dice));
            m = m.max(close("group normhd", &eg["norm_hd"], g.mean_norm_hd));
        }
    }
    println!("task 1: max relative difference {m:e}");
}

#[test]
fn task2_matches_transcription() {
    let data = load("fairness.json");
    let cases: Vec<Task2Case> = data["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Task2Case {
            pcr: c["pcr"].as_u64().map(|v| v as u8),
            prediction: c["pred"].as_u64().unwrap() as u8,
            score: Some(num(&c["score"])),
            subgroups: subgroups(c, "menopause_task2"),
        })
        .collect();
    let s = task2_score(&cases).unwrap();
    let e = &data["task2"];
    let mut m = close("ba", &e["balanced_accuracy"], s.balanced_accuracy);
    m = m.max(close("disparity", &e["disparity"], s.disparity));
    m = m.max(close("ranking", &e["ranking"], s.ranking));
    for v in &s.variables {
        let name = v.variable.name();
        m = m.max(close(name, &e["per_variable"][name], v.disparity));
        let groups = e["groups"][name].as_object().unwrap();
        assert_eq!(groups.len(), v.groups.len(), "{name}: group count");
        for g in &v.groups {
            let eg = &groups[&g.label];
            assert_eq!(eg["n"].as_u64().unwrap() as usize, g.n);
            m = m.max(close("tpr", &eg["tpr"], g.tpr));
            m = m.max(close("fpr", &eg["fpr"], g.fpr));
            m = m.max(close(
                "group ba",
                &eg["balanced_accuracy"],
                g.balanced_accuracy,
            ));
            m = m.max(close("group auc", &eg["auc"], g.auc.unwrap_or(f64::NAN)));
        }
    }
    println!("task 2: max relative difference {m:e}");
}

#[test]
fn task2_single_class_group_quirk() {
    // scoring_task2.py: a group whose truths and predictions hold one class only makes
    // `confusion_matrix(...).ravel()` return one value → ValueError → TPR = FPR = 0 (even for a perfect all-
    // positive group). Checked with pandas 3.1 + scikit-learn 1.9.1: tpr {0: 0, 1: 1.0}, fpr {0: 0, 1: 0.0},
    // BA 1.0. Variables without any group count as no disparity.
    let case = |age: &str, y: u8, p: u8| Task2Case {
        pcr: Some(y),
        prediction: p,
        score: None,
        subgroups: Subgroups {
            age: Some(age.into()),
            ..Default::default()
        },
    };
    let cases = [
        case("0-40", 1, 1),
        case("0-40", 1, 1),
        case("41-50", 0, 0),
        case("41-50", 1, 1),
    ];
    let s = task2_score(&cases).unwrap();
    let age = &s.variables[0];
    assert_eq!((age.groups[0].tpr, age.groups[0].fpr), (0.0, 0.0));
    assert_eq!((age.groups[1].tpr, age.groups[1].fpr), (1.0, 0.0));
    assert_eq!(age.disparity, 1.0);
    assert_eq!(s.balanced_accuracy, 1.0);
    assert!((s.disparity - 1.0 / 3.0).abs() < 1e-15);
    assert!((s.ranking - (0.5 + 0.5 * (2.0 / 3.0))).abs() < 1e-15);
    assert!(s.variables[1].groups.is_empty() && s.variables[2].groups.is_empty());
}
