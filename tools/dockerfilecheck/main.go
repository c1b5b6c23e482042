// Command dockerfilecheck runs BuildKit's Dockerfile frontend in lint mode, the
// same code as `docker build --check`, with no daemon and no registry (base
// images resolve to a stand-in config, so nothing is fetched): parse
// errors, instruction errors and every build check (casing, JSON form of
// ENTRYPOINT/CMD, undefined variables, stage names, ...) are reported. Any
// warning or error makes it exit 1.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/moby/buildkit/client/llb/sourceresolver"
	digest "github.com/opencontainers/go-digest"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerui"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: dockerfilecheck DOCKERFILE")
		os.Exit(2)
	}
	dt, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "dockerfilecheck: %v\n", err)
		os.Exit(2)
	}
	// The lint report names its source; an empty LLB definition stands for the context.
	sourceMap := llb.NewSourceMap(nil, os.Args[1], "Dockerfile", dt)
	sourceMap.Definition = &llb.Definition{}
	res, err := dockerfile2llb.DockerfileLint(context.Background(), dt, dockerfile2llb.ConvertOpt{
		Config:       dockerui.Config{}, // all stages, default platform, no build args
		SourceMap:    sourceMap,
		MetaResolver: offlineResolver{},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "dockerfilecheck: %v\n", err)
		os.Exit(2)
	}
	bad := false
	for _, w := range res.Warnings {
		line := 0
		if len(w.Location.Ranges) > 0 {
			line = int(w.Location.Ranges[0].Start.Line)
		}
		fmt.Fprintf(os.Stderr, "%s:%d: %s: %s\n", os.Args[1], line, w.RuleName, w.Detail)
		bad = true
	}
	if res.Error != nil {
		fmt.Fprintf(os.Stderr, "%s: error: %s\n", os.Args[1], res.Error.Message)
		bad = true
	}
	if bad {
		os.Exit(1)
	}
	fmt.Println("dockerfilecheck: ok")
}

// offlineResolver answers every base image lookup with a minimal linux/amd64
// config instead of asking a registry: the checks need a config, not the image.
type offlineResolver struct{}

func (offlineResolver) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	cfg := []byte(`{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/bin:/usr/bin:/bin"]},"rootfs":{"type":"layers","diff_ids":[]}}`)
	return ref, digest.FromBytes(cfg), cfg, nil
}
