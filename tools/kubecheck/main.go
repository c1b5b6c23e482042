// Command kubecheck decodes Kubernetes manifests (multi-document YAML on stdin,
// e.g. `helm template` output) strictly into the typed objects of client-go's
// scheme: an unknown or duplicated field, a wrong type or an unknown kind is an
// error. It is the offline part of what the API server checks, with no cluster.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
)

func main() {
	strict := json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
		json.SerializerOptions{Yaml: true, Strict: true})
	reader := utilyaml.NewYAMLReader(bufio.NewReader(os.Stdin))
	count, failed := 0, 0
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "kubecheck: reading input: %v\n", err)
			os.Exit(2)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		count++
		obj, gvk, err := strict.Decode(doc, nil, nil)
		if err != nil {
			failed++
			fmt.Fprintf(os.Stderr, "kubecheck: document %d: %v\n", count, err)
			continue
		}
		_ = obj
		fmt.Printf("ok %s\n", gvk.String())
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "kubecheck: %d of %d objects invalid\n", failed, count)
		os.Exit(1)
	}
	fmt.Printf("kubecheck: %d objects valid\n", count)
}

// stripComments drops whole-line YAML comments so a document of only comments
// (helm's "# Source:" headers of an empty template) counts as empty.
func stripComments(doc []byte) []byte {
	var out bytes.Buffer
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] == '#' {
			continue
		}
		out.Write(line)
		out.WriteByte('\n')
	}
	return out.Bytes()
}
