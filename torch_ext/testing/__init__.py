"""torch_ext's op table and its inputs, for the tests, the validation report and the benchmark."""

from .op_db import (AutocastPolicy, AutogradInfo, ErrorCalls, ModuleInfo, OpInfo, OptOut, SampleInput,
                    ValidationCase, op_db, op_db_by_name, validation_cases)

__all__ = ["AutocastPolicy", "AutogradInfo", "ErrorCalls", "ModuleInfo", "OpInfo", "OptOut", "SampleInput",
           "ValidationCase", "op_db", "op_db_by_name", "validation_cases"]
