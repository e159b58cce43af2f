"""torch_ext's op table and its inputs, for the tests, the validation report and the benchmark."""

from .op_db import ModuleInfo, OpInfo, SampleInput, ValidationCase, op_db, op_db_by_name, validation_cases

__all__ = ["ModuleInfo", "OpInfo", "SampleInput", "ValidationCase", "op_db", "op_db_by_name", "validation_cases"]
