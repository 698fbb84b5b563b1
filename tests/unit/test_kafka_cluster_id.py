from jobstream.infra.kafka import new_cluster_id


def test_cluster_ids_never_start_with_a_dash_and_have_kraft_length() -> None:
    ids = [new_cluster_id() for _ in range(5000)]  # a dash would come 1 time in 64 otherwise
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
    assert len(set(ids)) == len(ids)
