//! proptest strategies for shapes, broadcastable pairs and axes.

use proptest::prelude::*;

/// Shapes with rank in `ranks` and each dimension in `dims`.
pub fn shapes(
    ranks: std::ops::RangeInclusive<usize>,
    dims: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = Vec<usize>> {
    ranks.prop_flat_map(move |r| proptest::collection::vec(dims.clone(), r))
}

/// A pair of shapes that broadcast together: the second is the first with some leading axes
/// dropped and some dimensions set to 1 (and the pair is randomly swapped).
pub fn broadcastable_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    shapes(1..=3, 1..=4).prop_flat_map(|full| {
        let r = full.len();
        (Just(full), 0..=r, proptest::collection::vec(any::<bool>(), r), any::<bool>()).prop_map(
            |(full, drop, ones, swap)| {
                let small: Vec<usize> =
                    full.iter().enumerate().skip(drop).map(|(i, &d)| if ones[i] { 1 } else { d }).collect();
                if swap {
                    (small, full)
                } else {
                    (full, small)
                }
            },
        )
    })
}

/// A non-empty set of distinct axes of a rank-`rank` shape, possibly negative.
pub fn axes_for(rank: usize) -> impl Strategy<Value = Vec<isize>> {
    proptest::sample::subsequence((0..rank).collect::<Vec<_>>(), 1..=rank.max(1)).prop_flat_map(move |axes| {
        let n = axes.len();
        (Just(axes), proptest::collection::vec(any::<bool>(), n)).prop_map(move |(axes, neg)| {
            axes.iter().zip(neg).map(|(&a, ng)| if ng { a as isize - rank as isize } else { a as isize }).collect()
        })
    })
}
