"""Train the bundled ``breast_fna`` risk model and write its manifest, formula and card.

Data: the Breast Cancer Wisconsin (Diagnostic) data set shipped inside
scikit-learn (569 fine-needle aspirates of breast masses, 212 malignant; the
features describe cell nuclei measured on the digitised FNA image). Street WN,
Wolberg WH, Mangasarian OL. Nuclear feature extraction for breast tumor
diagnosis. IS&T/SPIE 1993;1905:861-70.

Model: L2-penalised logistic regression on four standardised "worst" (mean of
the three largest nuclei) features, fitted on a stratified 70 % split with the
penalty chosen by 5-fold cross-validated log-loss inside that split;
discrimination and calibration are measured on the held-out 30 %.

The product loads the result as plain JSON coefficients (no pickle), checked
against the SHA-256 recorded in the manifest. Needs scikit-learn (training only)::

    .venv/bin/pip install scikit-learn
    .venv/bin/python scripts/train_risk_breast_fna.py [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

SEED = 20130
FEATURES = [  # (dataset column, input name, label, description)
    ("worst radius", "radius_worst", "Radius (worst)", "Mean of the 3 largest nuclear radii (mean distance from centre to perimeter)."),
    ("worst texture", "texture_worst", "Texture (worst)", "Mean of the 3 largest nuclear texture values (SD of grey levels)."),
    ("worst concave points", "concave_points_worst", "Concave points (worst)", "Mean of the 3 largest fractions of concave contour points."),
    ("worst smoothness", "smoothness_worst", "Smoothness (worst)", "Mean of the 3 largest local variations in radius length."),
]
C_GRID = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0]
OUT = Path(__file__).resolve().parents[1] / "meddiag_desktop" / "risk" / "models" / "breast_fna"


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count one half)."""
    pos, neg = p[y == 1], p[y == 0]
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def bootstrap_auc_ci(y: np.ndarray, p: np.ndarray, n: int = 2000, seed: int = SEED) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n):
        idx = rng.integers(0, len(y), len(y))
        if 0 < y[idx].sum() < len(idx):
            values.append(auc(y[idx], p[idx]))
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def _newton_logistic(X: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
    """Unpenalised logistic regression by Newton-Raphson (small problems only)."""
    beta = np.zeros(X.shape[1])
    off = np.zeros(len(y)) if offset is None else offset
    for _ in range(100):
        eta = X @ beta + off
        mu = 1 / (1 + np.exp(-eta))
        w = np.clip(mu * (1 - mu), 1e-9, None)
        step = np.linalg.solve(X.T @ (X * w[:, None]), X.T @ (y - mu))
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    return beta


def calibration(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Calibration slope, intercept (calibration-in-the-large) and Brier score."""
    lp = np.log(np.clip(p, 1e-12, 1 - 1e-12) / np.clip(1 - p, 1e-12, 1))
    ones = np.ones((len(y), 1))
    _, slope = _newton_logistic(np.column_stack([ones, lp]), y)
    (citl,) = _newton_logistic(ones, y, offset=lp)
    return {"slope": float(slope), "intercept_in_the_large": float(citl), "brier": float(np.mean((p - y) ** 2))}


def reliability_table(y: np.ndarray, p: np.ndarray, groups: int = 5) -> list[dict[str, float]]:
    order = np.argsort(p, kind="stable")
    rows = []
    for chunk in np.array_split(order, groups):
        rows.append({
            "n": int(len(chunk)),
            "p_min": float(p[chunk].min()),
            "p_max": float(p[chunk].max()),
            "mean_predicted": float(p[chunk].mean()),
            "observed": float(y[chunk].mean()),
        })
    return rows


def _choose_c(X: np.ndarray, y: np.ndarray) -> float:
    """Inverse penalty with the best 5-fold cross-validated log-loss (training split only)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.model_selection import StratifiedKFold

    folds = list(StratifiedKFold(5, shuffle=True, random_state=SEED).split(X, y))
    scores = {}
    for c in C_GRID:
        losses = []
        for tr, va in folds:
            model = LogisticRegression(C=c, max_iter=5000).fit(X[tr], y[tr])
            losses.append(log_loss(y[va], model.predict_proba(X[va])[:, 1]))
        scores[c] = float(np.mean(losses))
    return min(scores, key=scores.get)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT, help="model folder to write (default: the bundled one)")
    args = ap.parse_args()

    import sklearn
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    data = load_breast_cancer()
    names = list(data.feature_names)
    X = data.data[:, [names.index(f[0]) for f in FEATURES]]
    y = (data.target == list(data.target_names).index("malignant")).astype(int)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=SEED)
    mean, sd = Xtr.mean(axis=0), Xtr.std(axis=0, ddof=0)
    best_c = _choose_c((Xtr - mean) / sd, ytr)
    clf = LogisticRegression(C=best_c, max_iter=5000).fit((Xtr - mean) / sd, ytr)

    formula = {
        "intercept": round(float(clf.intercept_[0]), 6),
        "terms": [
            {
                "input": inp,
                "coefficient": round(float(c), 6),
                "transform": {"kind": "standardize", "mean": round(float(m), 6), "sd": round(float(s), 6)},
            }
            for (_, inp, _, _), c, m, s in zip(FEATURES, clf.coef_[0], mean, sd)
        ],
    }
    # evaluate with exactly the rounded coefficients the product will load
    coef = np.array([t["coefficient"] for t in formula["terms"]])
    mu = np.array([t["transform"]["mean"] for t in formula["terms"]])
    sdv = np.array([t["transform"]["sd"] for t in formula["terms"]])
    p_te = 1 / (1 + np.exp(-(formula["intercept"] + ((Xte - mu) / sdv) @ coef)))

    metrics = {
        "penalty_C": best_c,
        "n_train": int(len(ytr)), "n_train_malignant": int(ytr.sum()),
        "n_test": int(len(yte)), "n_test_malignant": int(yte.sum()),
        "auc": auc(yte, p_te), "auc_ci95": bootstrap_auc_ci(yte, p_te),
        **calibration(yte, p_te),
        "reliability": reliability_table(yte, p_te),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    model_bytes = (json.dumps({
        "format": "meddiag-logistic-v1",
        "logistic": formula,
        "training": {"data": "sklearn.datasets.load_breast_cancer", "scikit_learn": sklearn.__version__,
                     "seed": SEED, "split": "stratified 70/30", "penalty": f"l2, C={best_c:g} (5-fold CV log-loss)"},
        "held_out_metrics": metrics,
    }, indent=2) + "\n").encode()
    (args.out / "model.json").write_bytes(model_bytes)
    digest = hashlib.sha256(model_bytes).hexdigest()
    (args.out / "risk_model.toml").write_text(_manifest(digest, X), encoding="utf-8")
    (args.out / "MODEL_CARD.md").write_text(_card(metrics, formula), encoding="utf-8")
    print(json.dumps({k: v for k, v in metrics.items() if k != "reliability"}, indent=2))
    print(f"wrote {args.out} (model.json sha256 {digest})")
    return 0


def _manifest(digest: str, X: np.ndarray) -> str:
    lines = [
        "# Written by scripts/train_risk_breast_fna.py; edit the script, not this file.",
        "schema_version = 1",
        'name = "breast_fna"',
        'title = "Breast mass FNA malignancy (Wisconsin diagnostic, trained in this repository)"',
        'version = "1"',
        'kind = "logistic_file"',
        'model_file = "model.json"',
        f'sha256 = "{digest}"',
        'model_card = "MODEL_CARD.md"',
        'outcome = "probability that a breast mass sampled by fine-needle aspiration is malignant"',
        'citation = "Trained in MedDiag Desktop (scripts/train_risk_breast_fna.py) on the Breast Cancer Wisconsin '
        '(Diagnostic) data: Street WN, Wolberg WH, Mangasarian OL. Nuclear feature extraction for breast tumor '
        'diagnosis. IS&T/SPIE Electronic Imaging 1993;1905:861-70."',
        'intended_use = "Research and teaching only: not validated for clinical use. Estimates the probability '
        "that a breast mass is malignant from four nuclear features measured on a digitised FNA image with the "
        "Wisconsin (Xcyt) feature definitions, in units of that data set. One small single-centre data set "
        '(569 cases, 1990s); see MODEL_CARD.md for held-out discrimination and calibration."',
        'reference_description = "Contributions are log-odds relative to the mean of the training split for each '
        'feature (standardised inputs)."',
    ]
    for col, (_, inp, label, desc) in enumerate(FEATURES):
        lo, hi = float(X[:, col].min()), float(X[:, col].max())
        lines += [
            "", "[[inputs]]", f'name = "{inp}"', 'type = "float"', f'label = "{label}"', f'description = "{desc}"',
            "min = 0", f"max = {round(hi * 3, 4)}", f"typical_min = {round(lo, 4)}", f"typical_max = {round(hi, 4)}",
            "from_image = true", 'source_hint = "measurement"',
        ]
    lines += [
        "", "[[categories]]", 'name = "Low (< 10%)"', "min_probability = 0.0", 'color = "low"',
        'action = "Low model probability; correlate with cytology and imaging (research use only)."',
        "", "[[categories]]", 'name = "Indeterminate (10-50%)"', "min_probability = 0.10", 'color = "intermediate"',
        'action = "Indeterminate; the model does not replace cytology or core biopsy (research use only)."',
        "", "[[categories]]", 'name = "High (>= 50%)"', "min_probability = 0.50", 'color = "high"',
        'action = "High model probability; correlate with cytology and biopsy (research use only)."',
    ]
    return "\n".join(lines) + "\n"


def _card(m: dict, formula: dict) -> str:
    rows = "\n".join(
        f"| {i + 1} | {r['n']} | {r['p_min']:.3f}-{r['p_max']:.3f} | {r['mean_predicted']:.3f} | {r['observed']:.3f} |"
        for i, r in enumerate(m["reliability"])
    )
    terms = "\n".join(
        f"| `{t['input']}` | {t['coefficient']:+.4f} | {t['transform']['mean']:.4f} | {t['transform']['sd']:.4f} |"
        for t in formula["terms"]
    )
    return f"""# Model card: `breast_fna`

**Research and teaching only; not validated for clinical use.**

- **Task**: probability that a breast mass sampled by fine-needle aspiration (FNA) is malignant.
- **Data**: Breast Cancer Wisconsin (Diagnostic), as shipped in scikit-learn
  (`sklearn.datasets.load_breast_cancer`): 569 FNAs (212 malignant, 357 benign), University of
  Wisconsin, early 1990s. Features describe cell nuclei outlined on the digitised FNA image
  (Street, Wolberg, Mangasarian 1993). Inputs: the "worst" (mean of the three largest) radius,
  texture, concave points and smoothness, in the data set's units.
- **Model**: logistic regression, L2 penalty (C = {m['penalty_C']:g}, chosen by 5-fold cross-validated
  log-loss within the training split), standardised inputs; stratified 70/30 split (seed {SEED});
  fitted on {m['n_train']} cases ({m['n_train_malignant']} malignant).
- **Format**: `model.json` (coefficients and standardisation, no executable content), SHA-256
  recorded in `risk_model.toml` and checked before loading.

## Held-out performance ({m['n_test']} cases, {m['n_test_malignant']} malignant)

| metric | value |
|---|---|
| AUC (95 % CI, 2000 bootstrap resamples) | {m['auc']:.3f} ({m['auc_ci95'][0]:.3f}-{m['auc_ci95'][1]:.3f}) |
| Calibration slope | {m['slope']:.2f} |
| Calibration intercept (in the large) | {m['intercept_in_the_large']:.2f} |
| Brier score | {m['brier']:.4f} |

Reliability (quintiles of predicted probability):

| group | n | predicted range | mean predicted | observed malignant |
|---|---|---|---|---|
{rows}

## Coefficients (log-odds per SD)

Intercept {formula['intercept']:+.4f}.

| input | coefficient | training mean | training SD |
|---|---|---|---|
{terms}

## Limitations
Small, old, single-centre data set with a malignancy prevalence (37 %) far above most clinical
settings; the features need the Wisconsin image analysis to be measured the same way. A
calibration slope above 1 means the predictions are too moderate (too close to 50 %) on the
held-out split: the penalty shrinks the coefficients of nearly separable classes. No external
validation; 171 held-out cases give wide uncertainty on calibration.

Reproduce: `.venv/bin/pip install scikit-learn && .venv/bin/python scripts/train_risk_breast_fna.py`
"""


if __name__ == "__main__":
    raise SystemExit(main())
