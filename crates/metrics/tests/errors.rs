//! Bad input gives typed errors: shape mismatch, non-binary values, NaN scores, unknown subgroup values,
//! undefined metrics under `EmptyPolicy::Error`.

use medmetrics::{
    brier_score, dice, hd95, mamamia, roc_auc, task2_score, AgeGroup, BreastDensity, EmptyPolicy,
    EmptyRule, Error, Hd95Rule, Subgroups, SurfaceOptions, Task2Case,
};
use ndarray::Array3;

#[test]
fn shape_mismatch() {
    let a = Array3::from_elem((2, 3, 4), false);
    let b = Array3::from_elem((2, 4, 3), false);
    assert!(matches!(
        dice(a.view(), b.view(), EmptyPolicy::Zero),
        Err(Error::ShapeMismatch { .. })
    ));
    let e = hd95(
        a.view(),
        b.view(),
        [1.0; 3],
        SurfaceOptions::default(),
        Hd95Rule::MaxOfDirected,
        EmptyRule::MAMA_MIA,
    );
    assert!(matches!(e, Err(Error::ShapeMismatch { .. })));
}

#[test]
fn non_binary_labels() {
    let mut p = Array3::<i16>::zeros((3, 3, 3));
    p[[1, 2, 0]] = 2;
    let g = Array3::<i16>::zeros((3, 3, 3));
    match mamamia::score_case(p.view(), g.view()) {
        Err(Error::NonBinary { what, index, value }) => {
            assert_eq!((what, index, value), ("prediction", vec![1, 2, 0], 2.0));
        }
        other => panic!("expected NonBinary, got {other:?}"),
    }
    assert!(matches!(
        brier_score(&[0, 2], &[0.1, 0.2]),
        Err(Error::NonBinary { .. })
    ));
}

#[test]
fn nan_scores_and_bad_probabilities() {
    assert!(matches!(
        roc_auc(&[0, 1], &[0.1, f64::NAN], EmptyPolicy::Nan),
        Err(Error::NonFinite { index: 1, .. })
    ));
    assert!(matches!(
        brier_score(&[0, 1], &[0.1, 1.5]),
        Err(Error::OutOfRange { index: 1, .. })
    ));
    let case = Task2Case {
        pcr: Some(1),
        prediction: 1,
        score: Some(f64::NAN),
        subgroups: Subgroups::default(),
    };
    assert!(matches!(task2_score(&[case]), Err(Error::NonFinite { .. })));
}

#[test]
fn unknown_subgroups_are_reported() {
    assert!(matches!(
        AgeGroup::from_age(0.0),
        Err(Error::UnknownSubgroup {
            variable: "age",
            ..
        })
    ));
    assert!(matches!(
        AgeGroup::from_age(101.0),
        Err(Error::UnknownSubgroup { .. })
    ));
    assert!(matches!(
        AgeGroup::from_age(f64::NAN),
        Err(Error::UnknownSubgroup { .. })
    ));
    let e = BreastDensity::parse("e").unwrap_err().for_case("DUKE_001");
    assert_eq!(
        e.to_string(),
        "unknown breast_density value \"e\" for case DUKE_001"
    );
    assert_eq!(BreastDensity::parse(" C ").unwrap(), BreastDensity::C);
}

#[test]
fn undefined_values_are_never_silent() {
    let z = Array3::from_elem((3, 3, 3), false);
    let mut one = z.clone();
    one[[1, 1, 1]] = true;
    assert!(matches!(
        dice(z.view(), z.view(), EmptyPolicy::Error),
        Err(Error::Undefined { .. })
    ));
    let o = SurfaceOptions::default();
    assert!(matches!(
        hd95(
            z.view(),
            one.view(),
            [1.0; 3],
            o,
            Hd95Rule::MaxOfDirected,
            EmptyRule::ERROR
        ),
        Err(Error::Undefined { .. })
    ));
    assert_eq!(
        hd95(
            z.view(),
            one.view(),
            [1.0; 3],
            o,
            Hd95Rule::MaxOfDirected,
            EmptyRule::MAMA_MIA
        )
        .unwrap(),
        f64::INFINITY
    );
    assert_eq!(
        hd95(
            z.view(),
            z.view(),
            [1.0; 3],
            o,
            Hd95Rule::MaxOfDirected,
            EmptyRule::MAMA_MIA
        )
        .unwrap(),
        0.0
    );
    assert!(hd95(
        one.view(),
        one.view(),
        [0.0, 1.0, 1.0],
        o,
        Hd95Rule::MaxOfDirected,
        EmptyRule::ERROR
    )
    .is_err());
}
