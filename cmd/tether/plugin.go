package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tetherhq/tether/sdk"
)

// pluginClient is the plugin commands' view of a running hub's REST API.
type pluginClient struct {
	Server string
	Token  string
	http   *http.Client
}

func (a *app) pluginCmd() *cobra.Command {
	c := &pluginClient{http: &http.Client{Timeout: 5 * time.Minute}}
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "Manage plugins of a running hub, or run a bundled plugin",
		Long: `Manage the plugins of a running hub through its REST API (master administrators):
install a plugin from a directory or a .tar.gz, list, enable, disable and remove plugins,
read a plugin's delivery log and replay failed deliveries.

The hub is named by --server and the caller by an API token (--token, from
POST /api/v1/auth/token). "tether plugin run <id>" is how the hub starts its bundled
plugins; it is not meant to be run by hand.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&c.Server, "server", "http://127.0.0.1:8080", "URL of the hub")
	pf.StringVar(&c.Token, "token", "", "API bearer token of a master administrator")
	bindEnv(pf)

	cmd.AddCommand(&cobra.Command{
		Use:   "install <directory|file.tar.gz>",
		Short: "Install or upgrade a plugin (its plugin.json names it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := pluginArchive(args[0])
			if err != nil {
				return err
			}
			var p pluginInfo
			if err := c.do(cmd.Context(), http.MethodPost, "/api/v1/plugins", "application/gzip", body, &p); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "installed %s %s (sha256 %s), %s\n", p.ID, p.Version, p.SHA256, enabledWord(p.Enabled))
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List installed plugins with their state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Plugins []pluginInfo `json:"plugins"`
			}
			if err := c.do(cmd.Context(), http.MethodGet, "/api/v1/plugins", "", nil, &out); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tVERSION\tENABLED\tSTATE\tLAST ERROR")
			for _, p := range out.Plugins {
				fmt.Fprintf(tw, "%s\t%s\t%t\t%s\t%s\n", p.ID, p.Version, p.Enabled, p.State, p.LastError)
			}
			return tw.Flush()
		},
	})
	for _, verb := range []string{"enable", "disable"} {
		cmd.AddCommand(&cobra.Command{
			Use:   verb + " <id>",
			Short: strings.ToUpper(verb[:1]) + verb[1:] + " a plugin",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				var p pluginInfo
				if err := c.do(cmd.Context(), http.MethodPost, "/api/v1/plugins/"+url.PathEscape(args[0])+"/"+verb, "", nil, &p); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "%s %s, state %s\n", p.ID, enabledWord(p.Enabled), p.State)
				return nil
			},
		})
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "remove <id>",
		Short: "Stop and uninstall a plugin (bundled plugins can only be disabled)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.do(cmd.Context(), http.MethodDelete, "/api/v1/plugins/"+url.PathEscape(args[0]), "", nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "removed %s\n", args[0])
			return nil
		},
	})
	var state, from, to string
	var limit int
	deliveries := &cobra.Command{
		Use:   "deliveries <id>",
		Short: "Show a plugin's delivery log, newest first, with every attempt",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"state": state, "from": from, "to": to} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if limit > 0 {
				q.Set("limit", fmt.Sprint(limit))
			}
			var out struct {
				Deliveries []deliveryInfo `json:"deliveries"`
			}
			path := "/api/v1/plugins/" + url.PathEscape(args[0]) + "/deliveries?" + q.Encode()
			if err := c.do(cmd.Context(), http.MethodGet, path, "", nil, &out); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tEVENT\tTYPE\tSESSION\tSTATE\tATTEMPTS\tLAST ERROR")
			for _, d := range out.Deliveries {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%d\t%s\n", d.ID, d.StableID, d.Type, d.SessionID, d.State, d.Attempts, d.LastError)
				for _, at := range d.History {
					fmt.Fprintf(tw, "\t  %s\t%s\t%dms\t%s\t\t%s\n", at.At.Format(time.RFC3339), at.Outcome, at.DurationMS, "", at.Error)
				}
			}
			return tw.Flush()
		},
	}
	deliveries.Flags().StringVar(&state, "state", "", "only deliveries in this state: pending|blocked|running|delivered|failed|skipped")
	deliveries.Flags().StringVar(&from, "from", "", "only events at or after this RFC 3339 time")
	deliveries.Flags().StringVar(&to, "to", "", "only events before this RFC 3339 time")
	deliveries.Flags().IntVar(&limit, "limit", 50, "at most this many deliveries")
	cmd.AddCommand(deliveries)

	var rfrom, rto string
	replay := &cobra.Command{
		Use:   "replay <id> [delivery-id]",
		Short: "Replay one failed delivery, or every failed one between --from and --to",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct {
				Replayed int `json:"replayed"`
			}
			base := "/api/v1/plugins/" + url.PathEscape(args[0]) + "/deliveries"
			var err error
			switch {
			case len(args) == 2:
				err = c.do(cmd.Context(), http.MethodPost, base+"/"+url.PathEscape(args[1])+"/replay", "", nil, &out)
			case rfrom != "" && rto != "":
				body, _ := json.Marshal(map[string]string{"from": rfrom, "to": rto})
				err = c.do(cmd.Context(), http.MethodPost, base+"/replay", "application/json", bytes.NewReader(body), &out)
			default:
				return fmt.Errorf("give a delivery id, or both --from and --to")
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "replayed %d deliveries\n", out.Replayed)
			return nil
		},
	}
	replay.Flags().StringVar(&rfrom, "from", "", "replay failed deliveries of events at or after this RFC 3339 time")
	replay.Flags().StringVar(&rto, "to", "", "replay failed deliveries of events before this RFC 3339 time")
	cmd.AddCommand(replay)

	cmd.AddCommand(&cobra.Command{
		Use:    "run <id>",
		Short:  "Run a bundled plugin (the hub starts it this way)",
		Args:   cobra.ExactArgs(1),
		Hidden: false,
		RunE: func(_ *cobra.Command, args []string) error {
			b, ok := bundled[args[0]]
			if !ok {
				names := make([]string, 0, len(bundled))
				for n := range bundled {
					names = append(names, n)
				}
				slices.Sort(names)
				return fmt.Errorf("no bundled plugin %q (bundled: %s)", args[0], strings.Join(names, ", "))
			}
			sdk.Serve(b.new())
			return nil
		},
	})
	return cmd
}

func enabledWord(on bool) string {
	if on {
		return "enabled"
	}
	return "disabled"
}

type pluginInfo struct {
	ID        string `json:"id"`
	Version   string `json:"version"`
	SHA256    string `json:"sha256"`
	Enabled   bool   `json:"enabled"`
	State     string `json:"state"`
	LastError string `json:"last_error"`
}

type deliveryInfo struct {
	ID        int64  `json:"id"`
	StableID  string `json:"event_id"`
	Type      string `json:"event_type"`
	SessionID int64  `json:"session_id"`
	State     string `json:"state"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error"`
	History   []struct {
		At         time.Time `json:"at"`
		Outcome    string    `json:"outcome"`
		DurationMS int64     `json:"duration_ms"`
		Error      string    `json:"error"`
	} `json:"history"`
}

// do calls the hub and decodes its JSON answer into out (nil: ignore it).
// The hub's error message is returned as the error.
func (c *pluginClient) do(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	if c.Token == "" {
		return fmt.Errorf("--token (or TETHER_TOKEN) is required: sign in with POST %s/api/v1/auth/sign-in", c.Server)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.Server, "/")+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("call hub: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read hub answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct {
				Message string            `json:"message"`
				Fields  map[string]string `json:"fields"`
			} `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
			msg := e.Error.Message
			for k, v := range e.Error.Fields {
				msg += fmt.Sprintf("\n  %s: %s", k, v)
			}
			return fmt.Errorf("%s (HTTP %d)", msg, resp.StatusCode)
		}
		return fmt.Errorf("hub answered HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	return json.Unmarshal(raw, out)
}

// pluginArchive returns a .tar.gz file as is, or packs a directory into one.
func pluginArchive(path string) (io.Reader, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return os.Open(path)
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(path, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() && !info.IsDir() {
			return fmt.Errorf("%s: only regular files and directories can be packed", p)
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", path, err)
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}
