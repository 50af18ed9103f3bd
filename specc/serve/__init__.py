"""`specc serve`: a prediction server for a trained run (its Keras checkpoint, or its ONNX
export run by ONNX Runtime alone), on Starlette and uvicorn (the `serve` extra).

    predictors.py  what answers: the run's own predict code path (Keras) or ONNX Runtime
    batching.py    micro-batching of concurrent requests, a bounded queue
    metrics.py     request counts, latency histogram, errors (Prometheus text)
    app.py         the HTTP routes, request checks and the uvicorn server
"""
