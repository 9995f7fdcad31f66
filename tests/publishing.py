"""Publishing in tests whose subject is not publication itself (the lock, the dashboards, the
notifications): the framework walks through its phases (framework_advance_to) and every unit not
appraised is excluded by name, as the office would do, before framework_publish."""

from datetime import date

from scoring.frameworks.services import framework_advance_to, framework_publish, publication_lines
from scoring.models import Framework, FrameworkStatus, Via

EXCLUDED = "Chưa hoàn thành thẩm định (dữ liệu kiểm thử)"


def walk_and_publish(
    *,
    framework: Framework,
    decision_number: str,
    decision_date: date,
    actor=None,
    via: str = Via.COMMAND,
    exclusions: dict[str, str] | None = None,
) -> Framework:
    framework = framework_advance_to(framework=framework, phase=FrameworkStatus.FINAL, actor=actor, via=via)
    if exclusions is None:
        exclusions = {line.unit.code: EXCLUDED for line in publication_lines(framework) if not line.appraised}
    return framework_publish(
        framework=framework,
        decision_number=decision_number,
        decision_date=decision_date,
        exclusions=exclusions,
        actor=actor,
        via=via,
    )
