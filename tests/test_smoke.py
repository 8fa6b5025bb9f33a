from aws_cdk import cx_api


def test_example_app_has_the_contract_stack_names(example_assembly: cx_api.CloudAssembly) -> None:
    names = sorted(s.stack_name for s in example_assembly.stacks)
    assert names == [
        "chefs-kiss-dev-platform",
        "chefs-kiss-dev-tenant-bella-napoli",
        "chefs-kiss-dev-tenant-golden-wok",
        "chefs-kiss-dev-tenant-taco-loco",
        "chefs-kiss-prod-platform",
        "chefs-kiss-prod-tenant-golden-wok",
        "chefs-kiss-prod-tenant-le-petit-bistro",
        "chefs-kiss-prod-tenant-sushi-zen",
    ]
