from botocore.configloader import raw_config_parse

from chalicelib.lifecycle.access_map import assumable_roles, aws_config

DEV = "arn:aws:iam::222233334444:role/DeveloperRole"
GLASS = "arn:aws:iam::222233334444:role/BreakGlassRole"


def test_roles_come_from_allow_statements_on_sts_assume_role():
    documents = [
        {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": [DEV, GLASS]}]},
        {"Statement": {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}},
        {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]},
        {"Statement": [{"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": GLASS}]},
    ]
    assert assumable_roles(documents) == [DEV]


def test_config_has_one_profile_per_role_named_after_the_person(tmp_path):
    text = aws_config(
        "pete",
        [DEV, GLASS],
        root_account_id="123456789012",
        managed_path="/managed/",
        region="eu-west-1",
        mfa_roles=frozenset({"BreakGlassRole"}),
    )
    path = tmp_path / "config"
    path.write_text(text)
    parsed = raw_config_parse(str(path))
    assert set(parsed) == {
        "profile 123456789012-pete",
        "profile 222233334444-DeveloperRole",
        "profile 222233334444-BreakGlassRole",
    }
    dev = parsed["profile 222233334444-DeveloperRole"]
    assert dev == {
        "source_profile": "123456789012-pete",
        "role_arn": DEV,
        "role_session_name": "pete",
        "region": "eu-west-1",
    }
    glass = parsed["profile 222233334444-BreakGlassRole"]
    assert glass["mfa_serial"] == "arn:aws:iam::123456789012:mfa/pete"
