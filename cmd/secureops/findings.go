package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/secureops/secureops/internal/parsers"
)

func findingsCmd() *cobra.Command {
	c := &cobra.Command{Use: "findings", Short: "Work with scanner reports and findings"}
	var scannerName, file string
	parse := &cobra.Command{
		Use:   "parse",
		Short: "Print the normalised findings of a scanner report as a JSON array",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return errors.New("--file is required (use - for standard input)")
			}
			var r io.Reader = os.Stdin
			if file != "-" {
				f, err := os.Open(file)
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			}
			data, err := io.ReadAll(io.LimitReader(r, 100<<20+1))
			if err != nil {
				return err
			}
			if len(data) > 100<<20 {
				return errors.New("report larger than 100 MB")
			}
			name := scannerName
			if name == "" || name == "auto" {
				if name = parsers.Detect(data); name == "" {
					return errors.New("cannot tell the report's format; pass --scanner")
				}
			}
			fs, err := parsers.Parse(name, data)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			if fs == nil {
				_, err = io.WriteString(cmd.OutOrStdout(), "[]\n")
				return err
			}
			return enc.Encode(fs)
		},
	}
	parse.Flags().StringVar(&scannerName, "scanner", "auto", "report format: "+strings.Join(parsers.Scanners, "|")+" or auto")
	parse.Flags().StringVar(&file, "file", "", "report file, - for standard input")
	c.AddCommand(parse)
	return c
}
