package pluginhost

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/pluginhost/catalogue"
	"github.com/tetherhq/tether/sdk/manifest"
)

// MaxRuleFileBytes bounds one routing rule file of a plugin (a pack holds
// at most a few hundred rules).
const MaxRuleFileBytes = 1 << 20

// checkPack is the catalogue's Check: the staged plugin's rule files are
// validated before they replace the installed version, so a refused pack
// refuses the install and leaves the previous version (and its pack) in
// place. A plugin without routing files passes.
func (h *Host) checkPack(_ context.Context, m manifest.Manifest, dir string) error {
	if len(m.Routing) == 0 {
		return nil
	}
	files, err := ruleFiles(m, dir)
	if err != nil {
		return err
	}
	return h.cfg.Packs.Validate(m.ID, m.Version, files)
}

// installPack stores the pack of a plugin the catalogue has just installed
// (read again from its final directory; checkPack validated the same
// files), or removes the earlier pack of a version that ships none.
// Bundled plugins have no files and no pack.
func (h *Host) installPack(ctx context.Context, p catalogue.Plugin) error {
	if h.cfg.Packs == nil || p.Bundled {
		return nil
	}
	if len(p.Manifest.Routing) == 0 {
		if err := h.cfg.Packs.Remove(ctx, p.ID); err != nil {
			return fmt.Errorf("plugin %s %s installed, but its previous rule pack could not be removed: %w", p.ID, p.Version, err)
		}
		return nil
	}
	files, err := ruleFiles(p.Manifest, p.Dir)
	if err == nil {
		err = h.cfg.Packs.Install(ctx, p.ID, p.Version, files)
	}
	if err != nil {
		return fmt.Errorf("plugin %s %s installed, but its rule pack was not stored (install it again): %w", p.ID, p.Version, err)
	}
	return nil
}

// ruleFiles reads the manifest's routing files from a plugin directory,
// keyed by their manifest paths. The catalogue checked that each is a
// regular file inside the directory.
func ruleFiles(m manifest.Manifest, dir string) (map[string][]byte, error) {
	files := make(map[string][]byte, len(m.Routing))
	for i, rel := range m.Routing {
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			return nil, fmt.Errorf("plugin %s: read rule file %s: %w", m.ID, rel, err)
		}
		b, err := io.ReadAll(io.LimitReader(f, MaxRuleFileBytes+1))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("plugin %s: read rule file %s: %w", m.ID, rel, err)
		}
		if len(b) > MaxRuleFileBytes {
			return nil, fault.Field(fmt.Sprintf("routing[%d]", i), fmt.Sprintf("%s is larger than %d bytes", rel, MaxRuleFileBytes))
		}
		files[rel] = b
	}
	return files, nil
}
