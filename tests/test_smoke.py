import huddle_client


def test_package_exports_the_readme_names() -> None:
    for name in ("create_cluster", "HuddleCluster", "Upstream", "FailureKind", "RotationEvent"):
        assert hasattr(huddle_client, name)


def test_integrations_subpackage_installs_under_huddle_client() -> None:
    import huddle_client.integrations as integrations

    assert integrations.__name__ == "huddle_client.integrations"
