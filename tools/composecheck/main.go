// Command composecheck loads a Compose file with compose-go, the loader that the
// Docker Compose v2 CLI itself uses: schema validation, interpolation from the
// environment and a .env file, normalization and the consistency checks
// (depends_on targets, named volumes, networks). It prints the resolved project
// as JSON, like `docker compose config --format json`, so tests can assert on the
// model Compose would run instead of on the raw YAML.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	file := flag.String("f", "docker-compose.yml", "Compose file to load")
	envFile := flag.String("env-file", "", "env file to use instead of the .env beside the Compose file")
	name := flag.String("p", "", "project name (default: from the file or its folder)")
	var profiles []string
	flag.Func("profile", "enable a profile (repeatable)", func(v string) error {
		profiles = append(profiles, v)
		return nil
	})
	flag.Parse()

	opts := []cli.ProjectOptionsFn{cli.WithOsEnv, cli.WithConsistency(true), cli.WithResolvedPaths(true)}
	if *envFile != "" {
		opts = append(opts, cli.WithEnvFiles(*envFile))
	}
	opts = append(opts, cli.WithDotEnv)
	if len(profiles) > 0 {
		opts = append(opts, cli.WithProfiles(profiles))
	}
	if *name != "" {
		opts = append(opts, cli.WithName(*name))
	}
	po, err := cli.NewProjectOptions([]string{*file}, opts...)
	if err != nil {
		fail(err)
	}
	project, err := po.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fail(err)
	}
	os.Stdout.Write(out)
	os.Stdout.Write([]byte("\n"))
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "composecheck: %v\n", err)
	os.Exit(1)
}
