"""The naming contract: one platform stack per environment, one tenant stack per restaurant,
with disaster recovery (seed 7.1) one standby platform and one standby per covered restaurant,
construct id == CloudFormation stack name (so `cdk deploy <name>` selects exactly that stack)."""

from aws_cdk import cx_api

from config import load_environments
from stacks import naming


def test_stack_names_follow_the_contract(example_assembly: cx_api.CloudAssembly) -> None:
    expected = set()
    for environment in load_environments():
        expected.add(f"chefs-kiss-{environment.name}-platform")
        expected |= {
            f"chefs-kiss-{environment.name}-tenant-{r.slug}" for r in environment.restaurants
        }
        if environment.disaster_recovery is not None:
            expected.add(f"chefs-kiss-{environment.name}-dr-platform")
            expected |= {
                f"chefs-kiss-{environment.name}-dr-tenant-{r.slug}"
                for r in environment.standby_restaurants()
            }
    assert any("-dr-" in name for name in expected), "the example shows disaster recovery"
    stacks = example_assembly.stacks
    assert {s.stack_name for s in stacks} == expected
    for stack in stacks:
        assert stack.id == stack.stack_name, "construct id must equal the CloudFormation name"


def test_naming_helpers_agree_with_the_contract() -> None:
    assert naming.platform_stack_name("prod") == "chefs-kiss-prod-platform"
    assert naming.tenant_stack_name("dev", "taco-loco") == "chefs-kiss-dev-tenant-taco-loco"
    assert naming.db_instance_identifier("dev", "taco-loco") == "chefs-kiss-dev-taco-loco"
    assert naming.dr_platform_stack_name("prod") == "chefs-kiss-prod-dr-platform"
    assert naming.standby_stack_name("prod", "golden-wok") == "chefs-kiss-prod-dr-tenant-golden-wok"


def test_stack_names_parse_back_into_their_kind(example_assembly: cx_api.CloudAssembly) -> None:
    """The deploy tools order stacks by kind through naming.parse_stack_name, never by substring:
    every stack of the example app and every disaster-recovery name parses back exactly."""
    for stack in example_assembly.stacks:
        parsed = naming.parse_stack_name(stack.stack_name)
        assert parsed is not None and parsed.name == stack.stack_name
        assert parsed.kind in (naming.PLATFORM, naming.DR_PLATFORM, naming.TENANT, naming.STANDBY)
    cases = {
        naming.platform_stack_name("prod"): ("prod", naming.PLATFORM, None),
        naming.dr_platform_stack_name("prod"): ("prod", naming.DR_PLATFORM, None),
        naming.tenant_stack_name("dev", "taco-loco"): ("dev", naming.TENANT, "taco-loco"),
        naming.standby_stack_name("prod", "dr-tenant"): ("prod", naming.STANDBY, "dr-tenant"),
        naming.tenant_stack_name("prod", "platform"): ("prod", naming.TENANT, "platform"),
        "chefs-kiss-prod-log-archive": ("prod", naming.OTHER, None),
    }
    for name, expected in cases.items():
        parsed = naming.parse_stack_name(name)
        assert parsed is not None and (parsed.environment, parsed.kind, parsed.slug) == expected
    for foreign in ("CDKToolkit", "chefs-kiss-", "chefs-kiss-prod", "other-prod-platform"):
        assert naming.parse_stack_name(foreign) is None, foreign
