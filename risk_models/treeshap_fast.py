"""Exact path-dependent TreeSHAP for LightGBM text models, precomputed per leaf (the Fast TreeSHAP v2 idea), in numba.

Path-dependent TreeSHAP (what LightGBM `pred_contrib=True` computes) splits each tree into its leaves. For a leaf with
value v whose root path tests the distinct features D (|D| = d), feature j has a cover fraction z_j (the product of
child/parent data counts over the path's nodes testing j) and, for a row x, an indicator o_j (x satisfies every test
of j on the path). The leaf adds to feature i in D

    phi_i += v (o_i - z_i) sum_{S ⊆ A \\ {i}} |S|! (d - |S| - 1)! / d!  prod_{j in D \\ S \\ {i}} z_j,

where A = {j : o_j = 1}. It depends on x only through the bit pattern A, so every leaf gets a table of d × 2^d numbers
when the model is loaded, and explaining a row is: evaluate each node's test once, form each leaf's pattern from its
path, and add d table entries. That is O(trees × leaves × depth) per row instead of O(trees × leaves × depth²), with
the same values up to floating-point rounding (checked against LightGBM to 1e-9 in the tests). Leaves testing more
than `TABLE_MAX_FEATURES` distinct features (deep, unconstrained trees) skip the table (it grows as 2^d) and are
evaluated at run time from the same formula through elementary symmetric polynomials, O(d + |A|²) per leaf.
Each row is one preorder pass over every tree: a node's pattern is its parent's with the parent's test applied.

Node tests follow LightGBM's `NumericalDecision`/`CategoricalDecision` (missing types None/Zero/NaN, default
direction, categorical bitsets; NaN or negative categories go right). Only single-output models without linear trees.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numba
import numpy as np
from numba import njit, prange

TABLE_MAX_FEATURES = 6  # leaves testing more distinct features are evaluated from the formula at run time
MAX_PATH_FEATURES = 62  # patterns are int64 bit masks
_ZERO_THRESHOLD = float(np.float32(1e-35))  # LightGBM's kZeroThreshold (a float literal) as a double
CHUNK = 256  # rows per task; a chunk's rows go through one tree at a time


class FastTreeShapUnsupported(ValueError):
    """The model has a shape this method does not handle (multi-class, linear trees, > 62 features on a path)."""


@dataclass(frozen=True)
class TreeShapTables:
    """A LightGBM model compiled into node tests and per-leaf contribution tables (flattened over all trees)."""

    n_features: int
    base_value: float
    max_depth: int
    node_feature: np.ndarray  # int32, per internal node
    node_threshold: np.ndarray  # float64 (for categorical nodes: unused)
    node_decision: np.ndarray  # int32 LightGBM decision_type bits
    node_cat_start: np.ndarray  # int32 offset of the node's bitset in cat_bits
    node_cat_len: np.ndarray  # int32 number of 32-bit words
    cat_bits: np.ndarray  # uint32
    tree_start: np.ndarray  # int64, per tree + 1: its entries
    entry_depth: np.ndarray  # int32, per preorder entry (all trees): depth, 0 = a tree's root
    entry_node: np.ndarray  # int32: the internal node (>= 0) or ~leaf
    entry_pos: np.ndarray  # int32: position of the parent's split feature among the path's distinct features
    entry_new: np.ndarray  # bool: the parent's split feature first appears on the path there
    entry_left: np.ndarray  # bool: the entry is its parent's left child
    feat_start: np.ndarray  # int64, per leaf + 1: its distinct features in leaf_feats
    leaf_feats: np.ndarray  # int32
    table_start: np.ndarray  # int64, per leaf: its table in `tables` (layout [pattern, position]); -1: none
    tables: np.ndarray  # float64
    leaf_zero: np.ndarray  # float64, aligned with leaf_feats: the cover fraction z of each distinct feature
    leaf_value: np.ndarray  # float64, per leaf

    @property
    def nbytes(self) -> int:
        arrays = [getattr(self, name) for name in self.__dataclass_fields__]
        return sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))


def compile_model(model_text: str, table_max_features: int = TABLE_MAX_FEATURES) -> TreeShapTables:
    """Parse a LightGBM text model and precompute the tables of leaves testing at most `table_max_features` distinct
    features (cached per model text)."""
    return _compile_cached(model_text, table_max_features)


def shap_values(tables: TreeShapTables, matrix: np.ndarray, num_threads: int = 1, chunk: int = CHUNK) -> np.ndarray:
    """Contributions (rows × features, float64) of `matrix` (features in the model's order)."""
    x = np.ascontiguousarray(matrix, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != tables.n_features:
        raise ValueError(f"expected a matrix with {tables.n_features} columns, got shape {x.shape}")
    out = np.zeros((x.shape[0], tables.n_features), dtype=np.float64)
    if x.shape[0] == 0 or tables.entry_node.size == 0:
        return out
    previous = numba.get_num_threads()
    numba.set_num_threads(max(1, min(num_threads, getattr(numba.config, "NUMBA_NUM_THREADS", 1))))
    try:
        _explain(
            x,
            tables.node_feature,
            tables.node_threshold,
            tables.node_decision,
            tables.node_cat_start,
            tables.node_cat_len,
            tables.cat_bits,
            tables.tree_start,
            tables.entry_depth,
            tables.entry_node,
            tables.entry_pos,
            tables.entry_new,
            tables.entry_left,
            tables.feat_start,
            tables.leaf_feats,
            tables.table_start,
            tables.tables,
            tables.leaf_zero,
            tables.leaf_value,
            _WEIGHTS,
            tables.max_depth,
            chunk,
            out,
        )
    finally:
        numba.set_num_threads(previous)
    return out


@functools.lru_cache(maxsize=8)
def _compile_cached(model_text: str, table_max_features: int) -> TreeShapTables:
    header, trees = _parse(model_text)
    if int(header.get("num_tree_per_iteration", "1")) != 1:
        raise FastTreeShapUnsupported("only single-output models (binary, regression) are supported")
    builder = _Builder(int(header["max_feature_idx"]) + 1, table_max_features)
    for tree in trees:
        builder.add_tree(tree)
    return builder.finish()


def _parse(model_text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    header: dict[str, str] = {}
    trees: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in model_text.splitlines():
        if line.startswith("end of trees"):
            break
        if line.startswith("Tree="):
            current = {}
            trees.append(current)
        elif "=" in line:
            key, value = line.split("=", 1)
            (current if current is not None else header)[key] = value
    return header, trees


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split()] if text else []


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split()] if text else []


class _Builder:
    """Accumulates the flattened arrays tree by tree.

    Each tree becomes a preorder sequence of entries (internal nodes and leaves) with their depth and the edge from
    their parent: the position of the parent's split feature among the distinct features of the path (positions are
    shared by every leaf below, as features are numbered in order of first appearance), whether that feature is new
    on the path, and whether the entry is the parent's left child.
    """

    def __init__(self, n_features: int, table_max_features: int) -> None:
        self.n_features = n_features
        self.table_max_features = table_max_features
        self.base = 0.0
        self.nodes: list[tuple[int, float, int, int, int]] = []  # feature, threshold, decision, cat start, cat len
        self.cat_bits: list[int] = []
        self.entries: list[tuple[int, int, int, bool, bool]] = []  # depth, node (>= 0) or ~leaf, pos, new, left
        self.feats: list[tuple[int, ...]] = []
        self.zero: list[float] = []
        self.values: list[float] = []
        self.table_start: list[int] = []
        self.leaf_tables: list[np.ndarray] = []
        self.table_size = 0
        self.max_depth = 0
        self.tree_start: list[int] = []

    def add_tree(self, tree: dict[str, str]) -> None:
        if tree.get("is_linear", "0") != "0":
            raise FastTreeShapUnsupported("linear trees are not supported")
        num_leaves = int(tree["num_leaves"])
        values = _floats(tree["leaf_value"])
        if num_leaves == 1:
            self.base += values[0]
            return
        leaf_count, internal_count = _ints(tree["leaf_count"]), _ints(tree["internal_count"])
        expected = 0.0
        for leaf in range(num_leaves):  # same order and arithmetic as LightGBM's Tree::ExpectedValue
            expected += (leaf_count[leaf] / internal_count[0]) * values[leaf]
        self.base += expected
        offset = len(self.nodes)
        self.tree_start.append(len(self.entries))
        self._add_nodes(tree)
        features, left, right = _ints(tree["split_feature"]), _ints(tree["left_child"]), _ints(tree["right_child"])

        def count(node: int) -> int:
            return internal_count[node] if node >= 0 else leaf_count[~node]

        # (node, depth, distinct features of the path, their cover fractions, edge: pos, new, is left child)
        stack: list[tuple[int, int, tuple[int, ...], tuple[float, ...], int, bool, bool]] = [
            (0, 0, (), (), 0, False, False)
        ]
        while stack:
            node, depth, distinct, zero, pos, new, is_left = stack.pop()
            self.max_depth = max(self.max_depth, depth)
            if node >= 0:
                self.entries.append((depth, offset + node, pos, new, is_left))
                feature = features[node]
                for child, child_left in ((right[node], False), (left[node], True)):  # left popped first
                    fraction = count(child) / count(node)
                    if feature in distinct:
                        at = distinct.index(feature)
                        child_zero = (*zero[:at], zero[at] * fraction, *zero[at + 1 :])
                        stack.append((child, depth + 1, distinct, child_zero, at, False, child_left))
                    else:
                        child_path = (*distinct, feature)
                        stack.append((child, depth + 1, child_path, (*zero, fraction), len(distinct), True, child_left))
                continue
            if len(distinct) > MAX_PATH_FEATURES:
                raise FastTreeShapUnsupported(f"a leaf tests {len(distinct)} distinct features (> {MAX_PATH_FEATURES})")
            self.entries.append((depth, ~len(self.values), pos, new, is_left))
            self.feats.append(distinct)
            self.zero.extend(zero)
            self.values.append(values[~node])
            self._add_table(np.array(zero, dtype=np.float64), values[~node])

    def _add_table(self, zero: np.ndarray, value: float) -> None:
        if zero.size > self.table_max_features:
            self.table_start.append(-1)
            return
        table = np.empty(zero.size << zero.size, dtype=np.float64)
        _leaf_table(zero, value, _shapley_weights(zero.size), table)
        self.table_start.append(self.table_size)
        self.leaf_tables.append(table)
        self.table_size += table.size

    def _add_nodes(self, tree: dict[str, str]) -> None:
        boundaries = _ints(tree.get("cat_boundaries", ""))
        base = len(self.cat_bits)
        self.cat_bits.extend(_ints(tree.get("cat_threshold", "")))
        for feature, threshold, decision in zip(
            _ints(tree["split_feature"]), _floats(tree["threshold"]), _ints(tree["decision_type"]), strict=True
        ):
            if decision & 1:  # categorical: the threshold indexes the node's bitset
                start, stop = boundaries[int(threshold)], boundaries[int(threshold) + 1]
                self.nodes.append((feature, threshold, decision, base + start, stop - start))
            else:
                self.nodes.append((feature, threshold, decision, 0, 0))

    def finish(self) -> TreeShapTables:
        nodes = self.nodes or [(0, 0.0, 0, 0, 0)]
        return TreeShapTables(
            n_features=self.n_features,
            base_value=self.base,
            max_depth=self.max_depth,
            node_feature=np.array([n[0] for n in nodes], dtype=np.int32),
            node_threshold=np.array([n[1] for n in nodes], dtype=np.float64),
            node_decision=np.array([n[2] for n in nodes], dtype=np.int32),
            node_cat_start=np.array([n[3] for n in nodes], dtype=np.int32),
            node_cat_len=np.array([n[4] for n in nodes], dtype=np.int32),
            cat_bits=np.array(self.cat_bits or [0], dtype=np.uint32),
            tree_start=np.array([*self.tree_start, len(self.entries)], dtype=np.int64),
            entry_depth=np.array([e[0] for e in self.entries], dtype=np.int32),
            entry_node=np.array([e[1] for e in self.entries], dtype=np.int32),
            entry_pos=np.array([e[2] for e in self.entries], dtype=np.int32),
            entry_new=np.array([e[3] for e in self.entries], dtype=np.bool_),
            entry_left=np.array([e[4] for e in self.entries], dtype=np.bool_),
            feat_start=_offsets([len(f) for f in self.feats]),
            leaf_feats=np.array([f for feats in self.feats for f in feats], dtype=np.int32),
            table_start=np.array(self.table_start, dtype=np.int64),
            tables=np.concatenate(self.leaf_tables) if self.leaf_tables else np.zeros(1),
            leaf_zero=np.array(self.zero, dtype=np.float64),
            leaf_value=np.array(self.values, dtype=np.float64),
        )


def _offsets(sizes: list[int]) -> np.ndarray:
    out = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=out[1:])
    return out


def _shapley_weights(d: int) -> np.ndarray:
    """w[s] = s! (d - s - 1)! / d! for coalitions of s of the leaf's other d - 1 features."""
    return np.array([math.factorial(s) * math.factorial(d - s - 1) / math.factorial(d) for s in range(d)])


_WEIGHTS = np.zeros((MAX_PATH_FEATURES + 1, MAX_PATH_FEATURES + 1))  # [d, s]
for _d in range(1, MAX_PATH_FEATURES + 1):
    _WEIGHTS[_d, :_d] = _shapley_weights(_d)


@njit(cache=True)
def _leaf_table(zero: np.ndarray, value: float, weights: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    r"""Fill out[pattern * d + p] for every pattern of satisfied features and every path feature position p.

    With D' = D minus p and B = the satisfied features of D', the sum over S ⊆ B of w(|S|) prod_{D' \ S} z equals
    prod_{D' \ B} z × sum_k w(|B| - k) e_k(z_B), e_k the elementary symmetric polynomials, built up bit by bit.
    """
    d = zero.size
    m = d - 1
    half = 1 << m
    sym = np.zeros((half, d))
    prod = np.empty(half)
    others = np.empty(max(m, 1))
    for p in range(d):
        k = 0
        for j in range(d):
            if j != p:
                others[k] = zero[j]
                k += 1
        sym[0, 0] = 1.0
        for j in range(1, d):
            sym[0, j] = 0.0
        prod[0] = 1.0
        for b in range(1, half):
            low = b & -b
            bit = 0
            while (1 << bit) != low:
                bit += 1
            rest = b ^ low
            z = others[bit]
            sym[b, 0] = sym[rest, 0]
            for j in range(1, d):
                sym[b, j] = sym[rest, j] + z * sym[rest, j - 1]
            prod[b] = prod[rest] * z
        for b in range(half):
            size = 0
            for j in range(m):
                size += (b >> j) & 1
            acc = 0.0
            for j in range(size + 1):
                acc += weights[size - j] * sym[b, j]
            total = prod[(half - 1) ^ b] * acc
            pattern = (b & ((1 << p) - 1)) | ((b >> p) << (p + 1))
            out[pattern * d + p] = value * (0.0 - zero[p]) * total
            out[(pattern | (1 << p)) * d + p] = value * (1.0 - zero[p]) * total


@njit(parallel=True, cache=True)
def _explain(  # pragma: no cover  (compiled)
    x: np.ndarray,
    node_feature: np.ndarray,
    node_threshold: np.ndarray,
    node_decision: np.ndarray,
    node_cat_start: np.ndarray,
    node_cat_len: np.ndarray,
    cat_bits: np.ndarray,
    tree_start: np.ndarray,
    entry_depth: np.ndarray,
    entry_node: np.ndarray,
    entry_pos: np.ndarray,
    entry_new: np.ndarray,
    entry_left: np.ndarray,
    feat_start: np.ndarray,
    leaf_feats: np.ndarray,
    table_start: np.ndarray,
    tables: np.ndarray,
    leaf_zero: np.ndarray,
    leaf_value: np.ndarray,
    weights: np.ndarray,
    max_depth: int,
    chunk: int,
    out: np.ndarray,
) -> None:
    """Rows in chunks (one per task); within a chunk tree by tree, so a tree's nodes and tables stay in cache while
    every row of the chunk goes through it. Per row and tree one preorder pass: an entry's pattern is its parent's
    with the parent's test applied."""
    n = x.shape[0]
    chunks = (n + chunk - 1) // chunk
    for c in prange(chunks):
        pattern = np.zeros(max_depth + 1, dtype=np.int64)  # satisfied-feature bits of the path at each depth
        goes_left = np.zeros(max_depth + 1, dtype=np.bool_)  # the row's direction at the path's node at each depth
        sym = np.empty(MAX_PATH_FEATURES + 1)
        cached = np.full(feat_start.size - 1, -1, dtype=np.int64)  # per leaf without a table: its last pattern
        cache = np.empty(leaf_feats.size)  # ... and the contributions it gave (rows in a chunk share patterns)
        for tree in range(tree_start.size - 1):
            for i in range(c * chunk, min(n, (c + 1) * chunk)):
                for e in range(tree_start[tree], tree_start[tree + 1]):
                    t = entry_depth[e]
                    if t == 0:
                        bits = 0
                    else:
                        bit = np.int64(1) << entry_pos[e]
                        bits = pattern[t - 1]
                        if goes_left[t - 1] == entry_left[e]:
                            if entry_new[e]:
                                bits |= bit
                        elif not entry_new[e]:
                            bits &= ~bit
                    pattern[t] = bits
                    k = entry_node[e]
                    if k >= 0:
                        goes_left[t] = _decide(
                            x[i, node_feature[k]],
                            node_threshold[k],
                            node_decision[k],
                            node_cat_start[k],
                            node_cat_len[k],
                            cat_bits,
                        )
                        continue
                    leaf = ~k
                    f0 = feat_start[leaf]
                    d = feat_start[leaf + 1] - f0
                    start = table_start[leaf]
                    if start < 0:
                        if cached[leaf] != bits:
                            _deep_leaf(cache, leaf_zero, f0, d, bits, leaf_value[leaf], weights, sym)
                            cached[leaf] = bits
                        for p in range(d):
                            out[i, leaf_feats[f0 + p]] += cache[f0 + p]
                        continue
                    start += bits * d
                    for p in range(d):
                        out[i, leaf_feats[f0 + p]] += tables[start + p]


@njit(cache=True)
def _deep_leaf(  # pragma: no cover  (compiled)
    out: np.ndarray,
    zero: np.ndarray,
    f0: int,
    d: int,
    pattern: int,
    value: float,
    weights: np.ndarray,
    sym: np.ndarray,
) -> None:
    r"""One leaf without a table, by the same formula: with A the satisfied features (|A| = a), e_k = e_k(z_A) and
    P = prod of z over D \ A,

        i not in A:  phi_i = -v P sum_k w(a - k) e_k            (the same for every such i)
        i in A:      phi_i = v (1 - z_i) P sum_k w(a - 1 - k) e'_k,   e' = e / (1 + z_i t) (polynomial division)

    O(d + a²) per leaf and row (TreeSHAP's extend/unwind is O(d²))."""
    a = 0
    sym[0] = 1.0
    outside = 1.0
    for j in range(d):
        if (pattern >> j) & 1:
            a += 1
            sym[a] = 0.0
            for k in range(a, 0, -1):
                sym[k] += zero[f0 + j] * sym[k - 1]
        else:
            outside *= zero[f0 + j]
    common = 0.0
    for k in range(a + 1):
        common += weights[d, a - k] * sym[k]
    for j in range(d):
        if (pattern >> j) & 1:
            z = zero[f0 + j]
            reduced = 1.0
            total = weights[d, a - 1]
            for k in range(1, a):
                reduced = sym[k] - z * reduced
                total += weights[d, a - 1 - k] * reduced
            out[f0 + j] = value * (1.0 - z) * outside * total
        else:
            out[f0 + j] = -value * outside * common


@njit(inline="always", cache=True)
def _decide(  # pragma: no cover  (compiled)
    value: float, threshold: float, decision: int, cat_start: int, cat_len: int, cat_bits: np.ndarray
) -> bool:
    """LightGBM's Tree::NumericalDecision / CategoricalDecision: True when the row goes to the left child."""
    if decision & 1:
        if np.isnan(value):
            return False
        category = int(value)
        if category < 0:
            return False
        word = category >> 5
        if word >= cat_len:
            return False
        return ((cat_bits[cat_start + word] >> np.uint32(category & 31)) & np.uint32(1)) != 0
    missing = (decision >> 2) & 3
    if np.isnan(value) and missing != 2:
        value = 0.0
    if (missing == 1 and -_ZERO_THRESHOLD <= value <= _ZERO_THRESHOLD) or (missing == 2 and np.isnan(value)):
        return (decision & 2) != 0
    return value <= threshold
