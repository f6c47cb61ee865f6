"""The reading workflow shared by the GUI panels and ``meddiag report`` (Qt-free).

* :mod:`.ai_run`: run a plugin (intended-use gate, worker process, audit, provenance,
  proposed findings);
* :mod:`.result_cache`: the session's plugin results, so nothing already at hand runs twice;
* :mod:`.risk_run`: risk inputs from the reader's confirmed findings, audited evaluations;
* :mod:`.session`: the headless session (plugins, decisions, risk) whose results the report receives;
* :mod:`.cli`: ``meddiag report``.
"""

from meddiag_desktop.workflow.ai_run import AIRun, check_plugin, findings_from_result, run_ai
from meddiag_desktop.workflow.result_cache import SESSION_CACHE, ResultCache
from meddiag_desktop.workflow.risk_run import ImageInputs, confirmed_labels, evaluate_risk, image_inputs

__all__ = ["AIRun", "check_plugin", "findings_from_result", "run_ai", "ImageInputs", "confirmed_labels",
           "evaluate_risk", "image_inputs", "ResultCache", "SESSION_CACHE"]
