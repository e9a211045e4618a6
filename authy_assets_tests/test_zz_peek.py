from authy_assets_tests.test_error_kinds import run_error_batch
def test_peek(start_authy_emulator, make_project, tmp_path):
    emulator, project, batch_key, result = run_error_batch(start_authy_emulator, make_project, tmp_path)
    for row in project.raw(batch_key).to_pylist():
        print(row["authy_id"], row["attempt"], row["status"], row["http_status"], row["error_code"], row["outcome"], row["content_type"], (row["body"] or "")[:40], round(row["duration_ms"] or 0))
    for row in project.phones(batch_key).to_pylist():
        print(row["authy_id"], row["status"], row["problem"], row["validation_problem"])
    print(emulator.stats())
