"""Task types, declared without TensorFlow (one module per paradigm; the registry of them is
`specc.registries.TASK_TYPES`). Their Keras implementations live in `specc.paradigms`."""
