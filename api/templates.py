"""Templates at the edge: publish a new version on the templates topic and wait until it is projected;
run one by binding its parameters and submitting the job exactly as ``POST /v1/jobs`` does."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from jobstream.api.commands import JobCommands, Result, tolerant
from jobstream.api.models import JobSubmission
from jobstream.api.problems import ApiProblem, field_error, validation_errors
from jobstream.api.store import Row
from jobstream.api.template_models import TEMPLATE_LABEL, TemplateIn, TemplateRunIn
from jobstream.clock import utcnow
from jobstream.core.templates import Param, bind, definition_problems, substitute
from jobstream.core.validation import Problem
from jobstream.projections.batch import template_key
from jobstream.projections.templates import template_from_row, version_view
from jobstream.schemas import ParamType, Template, TemplateParam, TemplateVersion

# Every version travels in each value of the templates topic: kept well under the broker's 1 MB.
MAX_TEMPLATE_CHARS = 256 * 1024


def _unprocessable(detail: str, problems: list[Problem]) -> ApiProblem:
    return ApiProblem(422, "validation", detail, errors=[field_error(field, why) for field, why in problems])


def version_of(row: Row, version: int | None) -> dict[str, Any]:
    """The version a run or a read names (the latest when None); 404 if the template has no such one."""
    number = version or int(row["latest"])
    if not 1 <= number <= len(row["versions"]):
        raise ApiProblem(404, "not-found", f"template {row['name']} has no version {number} "
                                           f"(versions 1 to {row['latest']})")
    found: dict[str, Any] = row["versions"][number - 1]
    return found


def params_of(version: dict[str, Any]) -> list[Param]:
    return [Param(p["name"], ParamType(p["type"]), p["default"]) for p in version["params"]]


class TemplateCommands:
    def __init__(self, jobs: JobCommands) -> None:
        self.jobs = jobs
        self.store, self.notifier, self.publisher = jobs.store, jobs.notifier, jobs.publisher

    async def known(self, name: str) -> Row:
        row = await self.store.template(name)
        if row is None:
            raise ApiProblem(404, "not-found", f"template {name} does not exist")
        return row

    async def create(self, body: TemplateIn) -> tuple[bool, Row]:
        """Publish the next version; (visible, row): the row once projected, else the one published."""
        problems = definition_problems(body.spec, [p.to_param() for p in body.params])
        if problems:
            raise _unprocessable("the template is not valid; see errors", problems)
        current = await self.store.template(body.name)
        template = _with_next_version(body, current)
        version = template.versions[-1]
        async with self.notifier.subscribe(template_key(body.name)) as subscription:
            await self._publish(template)
            row = await subscription.wait_until(tolerant(lambda: self._projected(template)),
                                                self.jobs.options.wait_s, self.jobs.options.recheck_s)
        if row is None:
            return False, {"name": body.name, "latest": version.version,
                           "versions": [*(current or {}).get("versions", []), version_view(version)]}
        return True, row

    async def _projected(self, template: Template) -> Row | None:
        """The row once it holds this version; 409 if another create took the same version number."""
        row = await self.store.template(template.name)
        mine = template.versions[-1]
        if row is None or row["latest"] < mine.version:
            return None
        theirs = row["versions"][mine.version - 1]
        if theirs["created_at"] != mine.created_at.isoformat() or theirs["spec"] != json.loads(mine.spec_json):
            raise ApiProblem(409, "conflict", f"template {template.name} got version {mine.version} from another "
                                              "request at the same time; read it and create again")
        return row

    async def _publish(self, template: Template) -> None:
        topic = self.publisher.topics.templates
        await self.jobs.acked(lambda: self.publisher.publish_acked(topic, template.name, template),
                              template_name=template.name)

    async def run(self, name: str, body: TemplateRunIn) -> Result:
        """Bind the parameters (422 naming ``params.<name>``), substitute them, then submit the job as
        ``POST /v1/jobs`` would; the job's label ``jobstream.template`` says ``name@version``."""
        version = version_of(await self.known(name), body.version)
        values, problems = bind(params_of(version), body.params)
        if problems:
            raise _unprocessable("the parameters do not fit the template; see errors", problems)
        job = substitute(version["spec"], values)
        labels = job.get("labels", {})
        if isinstance(labels, dict):  # else left as it is, for the job's validation to name it
            labels = {**labels, **body.labels, TEMPLATE_LABEL: f"{name}@{version['version']}"}
        options = body.model_dump(include={"idempotency_key", "upstreams_may_come_later"}, exclude_none=True)
        try:
            submission = JobSubmission.model_validate({**job, **options, "labels": labels})
        except ValidationError as error:
            raise ApiProblem(422, "validation", f"the job of template {name} version {version['version']} is not "
                                                "valid with these parameters; see errors",
                             errors=validation_errors(error.errors())) from error
        return await self.jobs.submit(submission.to_spec(), submission.upstreams_may_come_later)


def _with_next_version(body: TemplateIn, current: Row | None) -> Template:
    """The template as it stands (``current``, its row) with ``body`` as its next version."""
    previous = template_from_row(body.name, current["versions"]) if current else Template(name=body.name)
    version = TemplateVersion(version=len(previous.versions) + 1, spec_json=json.dumps(body.spec),
                              params=[_param_record(p.to_param()) for p in body.params],
                              description=body.description, created_at=utcnow())
    template = replace(previous, versions=[*previous.versions, version])
    if sum(len(v.spec_json) for v in template.versions) > MAX_TEMPLATE_CHARS:
        raise _unprocessable("the template is too large", [("spec", f"its versions' specs would hold more than "
                                                                    f"{MAX_TEMPLATE_CHARS} characters in all; "
                                                                    "use a new name")])
    return template


def _param_record(param: Param) -> TemplateParam:
    return TemplateParam(name=param.name, type=param.type,
                         default_json=None if param.default is None else json.dumps(param.default))
