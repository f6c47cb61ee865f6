"""Clinical risk models that take their inputs from the image (Qt-free).

A model is a declarative manifest (:class:`RiskModelSpec`): inputs with types,
units and allowed values, a logistic formula of transformed inputs, probability
categories with guideline actions, citation and intended use. Models are found
by :func:`discover_models` and evaluated by :meth:`RiskModel.evaluate`::

    from meddiag_desktop.risk import get_model
    result = get_model("brock").evaluate({"age": 67, "sex": "female", ...})
    result.probability, result.category, result.action, result.contributions

:mod:`meddiag_desktop.risk.image_inputs` derives nodule inputs from a label map.
"""

from meddiag_desktop.risk.evaluate import (
    Contribution,
    RiskError,
    RiskInputError,
    RiskResult,
    check_inputs,
    coerce_value,
    evaluate,
    format_probability,
)
from meddiag_desktop.risk.registry import (
    ENTRY_POINT_GROUP,
    ENV_VAR,
    Discovery,
    ModelIntegrityError,
    RiskModel,
    builtin_models_dir,
    discover_models,
    get_model,
    load_model,
    user_models_dir,
)
from meddiag_desktop.risk.spec import Category, InputSpec, LogisticFormula, RiskModelSpec, Rule, Term, Transform

__all__ = [
    "Category",
    "Contribution",
    "Discovery",
    "ENTRY_POINT_GROUP",
    "ENV_VAR",
    "InputSpec",
    "LogisticFormula",
    "ModelIntegrityError",
    "RiskError",
    "RiskInputError",
    "RiskModel",
    "RiskModelSpec",
    "RiskResult",
    "Rule",
    "Term",
    "Transform",
    "builtin_models_dir",
    "check_inputs",
    "coerce_value",
    "discover_models",
    "evaluate",
    "format_probability",
    "get_model",
    "load_model",
    "user_models_dir",
]
