"""`specc serve`: a prediction server for a trained run (its Keras checkpoint, its SavedModel
export, or its ONNX export run by ONNX Runtime alone), on Starlette and uvicorn (the `serve`
extra).

    formats.py     the formats it serves (the CLI's --format choices derive from it)
    predictors.py  what answers: the run's own predict code path (Keras), the SavedModel's
                   serving signature or ONNX Runtime
    batching.py    micro-batching of concurrent requests, a bounded queue
    metrics.py     request counts, latency histogram, errors (Prometheus text)
    app.py         the HTTP routes, request checks and the uvicorn server
"""
