"""The deployment file (deploy/): checked before anything deploys, with errors that name the key;
the settings, policies and parameters generated from it; today's deployments unchanged by it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from deploy import generate
from deploy.__main__ import main
from deploy.model import EXAMPLE_ACCOUNT_IDS, DeploymentError, parse
from deploy.model import load as load_file

PROJECT = Path(__file__).resolve().parents[2]
CONFIG = json.loads((PROJECT / ".chalice" / "config.json").read_text())
# Accounts of nobody's: the repository's own examples are refused.
ROOTS = {"dev": "409876543210", "prod": "509876543210"}
CHILDREN = {"dev": "409876543211", "prod": "509876543211"}


def todays(stage: str) -> dict:
    """The stage block of .chalice/config.json, with this test's accounts in place of the
    examples."""
    env = dict(CONFIG["stages"][stage]["environment_variables"])
    env["ROOT_ACCOUNT_ID"], env["CHILD_ACCOUNT_IDS"] = ROOTS[stage], CHILDREN[stage]
    return env


def stage_like_today(stage: str) -> dict:
    """A deployment file's stage that says what .chalice/config.json's stage says."""
    env = todays(stage)
    found = {
        "accounts": {"root": ROOTS[stage], "children": [CHILDREN[stage]]},
        "managed_path": env["MANAGED_PATH"],
        "access_keys": env["ACCESS_KEYS"],
        "allowed_groups": env["ALLOWED_GROUPS"].split(","),
        "protected_users": env["PROTECTED_USERS"].split(","),
        "approval_policies": json.loads(env["APPROVAL_POLICIES"]),
        "slack": {"allowed_users": [u for u in env["SLACK_ALLOWED_USERS"].split(",") if u]},
        "scim": {
            "console": env["SCIM_CONSOLE"] == "true",
            "offboard_after_days": int(env["SCIM_OFFBOARD_AFTER_DAYS"]),
            "groups": env["SCIM_GROUPS"].split(","),
        },
        "callbacks": {"hosts": [h for h in env["CALLBACK_HOSTS"].split(",") if h]},
        "log_level": env["LOG_LEVEL"],
    }
    if "REVIEW_OWNERS" in env:
        found["reviews"] = {
            "owners": json.loads(env["REVIEW_OWNERS"]),
            "channel": env["REVIEW_CHANNEL"],
            "carry_out": env["REVIEW_CARRY_OUT"],
            "undecided": env["REVIEW_UNDECIDED"],
            "reminder_days": int(env["REVIEW_REMINDER_DAYS"]),
            "quarterly": env["REVIEW_QUARTERLY"] == "true",
        }
    return found


def like_today() -> dict:
    return {"region": "eu-west-1", "stages": {s: stage_like_today(s) for s in ("dev", "prod")}}


def refused(raw: dict) -> str:
    with pytest.raises(DeploymentError) as error:
        parse(raw, "deployment.yaml")
    return str(error.value)


def test_a_file_saying_what_the_stages_say_today_generates_todays_settings_and_policies():
    deployment = parse(like_today())
    for stage in ("dev", "prod"):
        assert generate.stage_environment(deployment, stage) == todays(stage)
        policy = json.loads((PROJECT / ".chalice" / f"policy-{stage}.json").read_text())
        assert generate.policy(deployment, stage) == policy
        assert generate.groups_template(deployment.stages[stage]) is None  # the repository's
    names = generate.names("prod", deployment.stages["prod"])
    assert names["groups_stack"] == "iam-lifecycle-access-groups"
    assert names["service_stack"] == "iam-lifecycle-prod-service"


@pytest.mark.parametrize("account", sorted(EXAMPLE_ACCOUNT_IDS))
def test_the_repositorys_example_account_ids_are_refused(account):
    raw = like_today()
    raw["stages"]["prod"]["accounts"]["root"] = account
    raw["stages"]["dev"]["accounts"]["children"] = [account]
    message = refused(raw)
    assert f"deployment.yaml: stages.prod.accounts.root: {account} is an example" in message
    assert "stages.dev.accounts.children.0: " in message and "put your own" in message


def test_a_missing_key_is_named_with_what_to_do():
    raw = like_today()
    del raw["stages"]["prod"]["allowed_groups"]
    del raw["region"]
    message = refused(raw)
    assert "deployment.yaml: region: missing: add it" in message
    assert "deployment.yaml: stages.prod.allowed_groups: missing: add it" in message


def test_a_misspelt_key_and_a_bad_value_are_named():
    raw = like_today()
    raw["stages"]["prod"]["alowed_groups"] = ["x"]
    raw["stages"]["prod"]["accounts"]["root"] = "5098765432"
    raw["stages"]["prod"]["access_keys"] = "sometimes"
    message = refused(raw)
    assert "stages.prod.alowed_groups: not a setting of the deployment file" in message
    assert "stages.prod.accounts.root: '5098765432' is not a 12-digit AWS account id" in message
    assert "stages.prod.access_keys: " in message and "'issued_at_onboarding'" in message


def test_the_generated_settings_pass_the_apps_own_checks_before_anything_deploys():
    raw = like_today()
    raw["stages"]["prod"]["approval_policies"] = {"AdminGroup": {"approvers": ["U1"]}}
    raw["stages"]["dev"]["environment"] = {"MANAGED_PATH": "/x/", "REVOCATION_ROOM": "10"}
    message = refused(raw)
    assert (
        "stages.prod: APPROVAL_POLICIES['AdminGroup']: AdminGroup has no grant maximum" in message
    )
    assert (
        "stages.dev.environment.MANAGED_PATH: set it with the deployment file's key managed_path"
        in message
    )
    assert "stages.dev: REVOCATION_ROOM 10 must be between 1024 and 10240" in message


def test_a_misspelt_setting_or_rule_is_named_not_ignored():
    raw = like_today()
    raw["stages"]["prod"]["environment"] = {"REVIEW_OWNRS": "{}", "LEASE_SECONDS": "20"}
    raw["stages"]["prod"]["hygiene"] = {"rules": {"key_rotaton": {"days": 90}}}
    message = refused(raw)
    assert "stages.prod.environment.REVIEW_OWNRS: not a setting the functions read" in message
    assert "LEASE_SECONDS" not in message
    assert "stages.prod.hygiene.rules.key_rotaton: no such rule: one of " in message
    assert "key_rotation" in message


def test_stages_sharing_a_root_account_need_a_prefix_paths_apart_and_their_own_children():
    raw = like_today()
    raw["stages"]["dev"]["accounts"] = copy.deepcopy(raw["stages"]["prod"]["accounts"])
    message = refused(raw)
    assert "stages.prod.name_prefix: stages dev and prod share root account 509876543210" in message
    assert "stages.prod.managed_path: /managed/ and stage dev's /managed/ overlap" in message
    assert "stages.prod.accounts.children: 509876543211 also child of stage dev" in message
    assert "stages.prod.allowed_groups: ChildDeveloperGroup is stage dev's group too" in message


def test_a_child_account_belongs_to_one_stage_whatever_its_root():
    raw = like_today()
    raw["stages"]["dev"]["accounts"]["children"].append(CHILDREN["prod"])
    message = refused(raw)
    assert f"stages.prod.accounts.children: {CHILDREN['prod']} also child of stage dev" in message
    assert "trust one root account" in message


def prefixed() -> dict:
    """Stage dev beside prod in prod's root account, its names apart."""
    raw = like_today()
    dev = raw["stages"]["dev"]
    dev["accounts"]["root"] = ROOTS["prod"]
    dev["name_prefix"] = "Dev"
    dev["managed_path"] = "/managed-dev/"
    dev["allowed_groups"] = ["DevChildDeveloperGroup", "DevBreakGlassGroup"]
    dev["scim"]["groups"] = ["DevChildDeveloperGroup"]
    dev["approval_policies"] = {"DevBreakGlassGroup": dev["approval_policies"]["BreakGlassGroup"]}
    dev["reviews"]["owners"] = {f"Dev{g}": o for g, o in dev["reviews"]["owners"].items()}
    return raw


def test_a_prefixed_stage_names_its_groups_policies_and_users_apart():
    deployment = parse(prefixed())
    env = generate.stage_environment(deployment, "dev")
    assert env["ALLOWED_GROUPS"] == "DevChildDeveloperGroup,DevBreakGlassGroup"
    assert env["SELF_SERVICE_POLICY"] == "DevManagedUserSelfService"
    assert env["SUSPENDED_POLICY"] == "DevAccessSuspended"
    assert env["GRANT_MAX_HOURS"] == "DevBreakGlassGroup=4"
    statements = {s["Sid"]: s for s in generate.policy(deployment, "dev")["Statement"]}
    assert statements["ManagedUsers"]["Resource"] == ["arn:aws:iam::*:user/managed-dev/*"]
    assert statements["ManagedGroups"]["Resource"] == [
        "arn:aws:iam::*:group/DevChildDeveloperGroup",
        "arn:aws:iam::*:group/DevBreakGlassGroup",
    ]
    only = statements["SelfServiceAndSuspendedPoliciesOnly"]
    assert only["Condition"]["ArnLike"]["iam:PolicyARN"] == [
        "arn:aws:iam::*:policy/DevManagedUserSelfService",
        "arn:aws:iam::*:policy/DevAccessSuspended",
    ]
    assert (
        statements["StateTable"]["Resource"][0]
        == "arn:aws:dynamodb:*:*:table/iam-lifecycle-dev-state"
    )
    # No statement, a later one included, still names what belongs to the other stage.
    text = json.dumps(generate.policy(deployment, "dev"))
    for others in (
        "user/managed/",
        "group/ChildDeveloperGroup",
        "group/BreakGlassGroup",
        "policy/ManagedUserSelfService",
        "policy/AccessSuspended",
        "iam-lifecycle-prod",
        "iam-lifecycle/prod/",
    ):
        assert others not in text, others
    # The prod stage in the same account is exactly today's.
    prod = json.loads((PROJECT / ".chalice" / "policy-prod.json").read_text())
    assert generate.policy(deployment, "prod") == prod
    template = generate.groups_template(deployment.stages["dev"])
    made = {
        r["Properties"].get("GroupName") or r["Properties"].get("ManagedPolicyName")
        for r in template["Resources"].values()
    }
    assert made == {
        "DevChildDeveloperGroup",
        "DevBreakGlassGroup",
        "DevChildDeveloperPolicy",
        "DevBreakGlassPolicy",
        "DevManagedUserSelfService",
        "DevAccessSuspended",
    }
    assert generate.names("dev", deployment.stages["dev"])["groups_stack"] == (
        "iam-lifecycle-dev-access-groups"
    )


def test_a_prefixed_stage_may_manage_only_groups_with_its_prefix():
    raw = prefixed()
    raw["stages"]["dev"]["allowed_groups"].append("ReadOnlyGroup")
    assert (
        "stages.dev.allowed_groups: ReadOnlyGroup does not start with the stage's name_prefix Dev"
        in refused(raw)
    )


def test_a_secret_named_outside_the_stages_own_is_granted_by_its_name():
    raw = like_today()
    raw["stages"]["prod"]["slack"]["bot_token_secret"] = "shared/slack-bot"
    resources = {s["Sid"]: s["Resource"] for s in generate.policy(parse(raw), "prod")["Statement"]}[
        "Secrets"
    ]
    assert resources == [
        "arn:aws:secretsmanager:*:*:secret:iam-lifecycle/prod/*",
        "arn:aws:secretsmanager:*:*:secret:shared/slack-bot-??????",
    ]


def test_build_writes_a_chalice_project_and_keeps_what_chalice_deployed(tmp_path):
    config = tmp_path / "iam.yaml"
    config.write_text(yaml.safe_dump(prefixed()))
    out = tmp_path / "iam.build"
    deployed = out / ".chalice" / "deployed" / "prod.json"
    deployed.parent.mkdir(parents=True)
    deployed.write_text('{"resources": []}')
    assert main(["build", "--config", str(config)]) == 0
    assert deployed.read_text() == '{"resources": []}'
    assert (out / "app.py").is_file() and (out / "chalicelib" / "settings.py").is_file()
    chalice = json.loads((out / ".chalice" / "config.json").read_text())
    assert set(chalice["stages"]) == {"dev", "prod"}
    assert chalice["stages"]["prod"]["iam_policy_file"] == "policy-prod.json"
    assert chalice["environment_variables"]["APP_VERSION"] == project_version()
    assert chalice["stages"]["prod"]["environment_variables"] == todays("prod")
    prod_policy = json.loads((out / ".chalice" / "policy-prod.json").read_text())
    assert prod_policy == json.loads((PROJECT / ".chalice" / "policy-prod.json").read_text())
    assert json.loads((out / "parameters" / "dev" / "root-access-groups.json").read_text()) == {
        "ChildAccountIds": CHILDREN["dev"],
        "ManagedPath": "/managed-dev/",
        "AccessKeys": "issued_at_onboarding",
    }
    commands = (out / "commands-dev.sh").read_text()
    assert f"--template-file {out}/templates/root/access-groups-Dev.json" in commands
    assert f"chalice deploy --project-dir {out} --stage dev" in commands


def test_the_command_names_the_file_from_the_environment_and_says_what_is_wrong(
    tmp_path, monkeypatch, capsys
):
    config = tmp_path / "iam.yaml"
    raw = like_today()
    raw["stages"]["prod"]["accounts"]["root"] = "123456789012"
    config.write_text(yaml.safe_dump(raw))
    monkeypatch.delenv("IAM_LIFECYCLE_CONFIG", raising=False)
    assert main(["check"]) == 2
    assert "--config or IAM_LIFECYCLE_CONFIG" in capsys.readouterr().err
    monkeypatch.setenv("IAM_LIFECYCLE_CONFIG", str(config))
    assert main(["check"]) == 2
    assert (
        "stages.prod.accounts.root: 123456789012 is an example account id"
        in capsys.readouterr().err
    )
    config.write_text(yaml.safe_dump(like_today()))
    assert main(["check"]) == 0
    assert load_file(config).stages["prod"].accounts.root == ROOTS["prod"]


def project_version() -> str:
    import tomllib

    return tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["version"]


def test_the_version_is_pyprojects_unless_the_build_wrote_it():
    from chalicelib.settings import Settings

    base = {"ALLOWED_GROUPS": "ChildDeveloperGroup", "ROOT_ACCOUNT_ID": ROOTS["prod"]}
    assert Settings.from_env(base).version == project_version()
    assert Settings.from_env({**base, "APP_VERSION": "9.9.9"}).version == "9.9.9"


def test_a_release_needs_its_changelog_section_with_what_a_deployment_must_do():
    from deploy.release import ReleaseError, changes

    log = (
        "# Changelog\n\n## [Unreleased]\n\n## [1.1.0] - 2027-01-01\n### Added\n- x\n\n## [1.0.0]\n"
    )
    with pytest.raises(ReleaseError, match=r"no section '## \[2.0.0\]'"):
        changes("2.0.0", log)
    with pytest.raises(ReleaseError, match="has no '### What an existing deployment must do'"):
        changes("1.1.0", log)
    fixed = log.replace("### Added", "### What an existing deployment must do\nNothing.\n### Added")
    assert changes("1.1.0", fixed).startswith("## [1.1.0] - 2027-01-01\n### What an existing")
    assert changes(project_version(), (PROJECT / "CHANGELOG.md").read_text())


def test_the_teardown_removes_every_secret_the_service_makes_or_reads_in_order(tmp_path):
    import re

    raw = like_today()
    raw["stages"]["prod"]["drift_webhook_secret"] = "ops/drift-webhook"
    raw["stages"]["prod"]["alarm_email"] = "ops@example.org"
    deployment = parse(raw)
    lines = generate.teardown(deployment, "prod", tmp_path)
    text = "\n".join(lines)
    made = re.findall(
        r"Name: !Sub \$\{AppName\}/\$\{Stage\}/([a-z-]+)",
        (PROJECT / "templates/root/service.yaml").read_text(),
    )
    assert len(made) == 7
    # Each secret variable the settings read, by the name the stage gives it.
    read = re.findall(
        r'env\.get\(\s*"([A-Z_]+_SECRET)"', (PROJECT / "chalicelib/settings.py").read_text()
    )
    assert {
        "API_CLIENTS_SECRET",
        "SCIM_TOKEN_SECRET",
        "SLACK_BOT_TOKEN_SECRET",
        "DRIFT_WEBHOOK_SECRET",
    } <= set(read)
    deleted = re.findall(
        r"delete-secret --region eu-west-1 --secret-id (\S+) --force-delete-without-recovery", text
    )
    assert set(deleted) == {f"iam-lifecycle/prod/{name}" for name in made} | {"ops/drift-webhook"}
    assert len(read) == len(set(deleted))
    order = [
        "chalice delete",
        "--stack-name iam-lifecycle-prod-monitoring",
        "delete-role-policy --region eu-west-1 --role-name DeveloperRole --policy-name AccessRevocation",
        "delete-role-policy --region eu-west-1 --role-name BreakGlassRole --policy-name AccessRevocation",
        "--stack-name iam-lifecycle-access-roles",
        "--stack-name iam-lifecycle-access-groups",
        "delete-secret",
        "--stack-name iam-lifecycle-prod-service",
        "--table-name iam-lifecycle-prod-state",
        "--log-group-name /aws/lambda/iam-lifecycle-prod",
        "--log-group-name-prefix /aws/lambda/iam-lifecycle-prod-",
    ]
    positions = [text.index(step) for step in order]
    assert positions == sorted(positions)


def test_the_command_answers_the_version(capsys):
    assert main(["version"]) == 0
    assert capsys.readouterr().out == project_version() + "\n"


@pytest.mark.parametrize("out", [".", "..", "chalicelib", "templates/root", ".chalice"])
def test_the_build_never_writes_over_the_repositorys_files(tmp_path, monkeypatch, out, capsys):
    # A stand-in of the repository, so that a build that did write over it harms nothing.
    project = tmp_path / "project"
    for name in ("chalicelib/settings.py", "templates/root/service.yaml", ".chalice/config.json"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text("kept")
    monkeypatch.setattr(generate, "PROJECT", project)
    config = tmp_path / "iam.yaml"
    config.write_text(yaml.safe_dump(like_today()))
    assert main(["build", "--config", str(config), "--out", str(project / out)]) == 2
    assert "would write over the repository's files" in capsys.readouterr().err
    assert (project / "chalicelib" / "settings.py").read_text() == "kept"
