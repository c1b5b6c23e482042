from tests.kube.fixtures import apiserver, kube

__all__ = ["apiserver", "kube"]
