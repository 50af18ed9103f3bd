"""A composite task type that exists only in the tests: its declaration (declaration.py, no
TensorFlow) and its Keras side (paradigm.py). A test registers it with one line,
`TASK_TYPES.add(TOY.name, TOY)` (the `toy_task` fixture of tests/test_task_registry.py)."""
