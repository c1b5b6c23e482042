"""The local stack manager: a real Kafka (KRaft) and Elasticsearch on 127.0.0.1,
fetched from Maven Central, for `make up`, `make test` and the benchmarks."""
