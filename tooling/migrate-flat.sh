#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Bring the patches of postings from a branch that still has the flat
# layout (patches/NNNN-*.patch, one cover letter) into the postings
# layout of the current branch:
#
#   tooling/migrate-flat.sh BRANCH POSTING=SUBJECT-PREFIX...
#   e.g. tooling/migrate-flat.sh iova-work 'iova=iommu/iova:'
#        tooling/migrate-flat.sh both-work 'swiotlb=swiotlb:' 'iova=iommu/iova:'
#   then: ./patchtree edit --force && ./patchtree export
#
# Name only the postings BRANCH changed: a posting named here becomes
# BRANCH's copy.  Its patch files become BRANCH's patch files whose
# subject has SUBJECT-PREFIX, in BRANCH's series order, under its marker
# in series; its cover letter stays (copy cover text from BRANCH's
# patches/0000-cover-letter.patch by hand).  edit + export then number
# them within the posting and rebase them onto the base.  Run at the top
# of the tree with no uncommitted change; it changes only
# patches/POSTING/ and series, both in git.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 BRANCH POSTING=SUBJECT-PREFIX..." >&2; exit 2; }
BR=$1
shift
cd "$(dirname "$0")/.."
[ -z "$(git status --porcelain)" ] ||
	{ echo "error: uncommitted changes: commit or stash them first" >&2; exit 1; }
git rev-parse -q --verify "$BR^{commit}" >/dev/null ||
	{ echo "error: no branch or commit '$BR'" >&2; exit 1; }
flat=$(mktemp)
trap 'rm -f "$flat"' EXIT
for spec in "$@"; do
P=${spec%%=*} SUBJ=${spec#*=}
[ "$P" != "$spec" ] && [ -n "$SUBJ" ] ||
	{ echo "error: '$spec': want POSTING=SUBJECT-PREFIX" >&2; exit 2; }
grep -qx "# posting: $P" series ||
	{ echo "error: series has no '# posting: $P' line" >&2; exit 1; }
git show "$BR:series" | sed -e 's/#.*//' -e 's/[[:space:]]//g' | grep . |
while read -r f; do
	if git show "$BR:patches/$f" | grep -q "^Subject: \[PATCH[^]]*\] $SUBJ"; then
		echo "$f"
	fi
done > "$flat"
[ -s "$flat" ] || { echo "error: no '$SUBJ' patch in $BR's series" >&2; exit 1; }
git rm -q $(git ls-files "patches/$P/" | grep -v '/0000-cover-letter\.patch$')
while read -r f; do git show "$BR:patches/$f" > "patches/$P/$f"; done < "$flat"
/usr/bin/python3 - "$P" "$flat" <<'EOF'
import sys
p, flat = sys.argv[1], [l.strip() for l in open(sys.argv[2]) if l.strip()]
out, inside = [], False
for line in open("series").read().splitlines():
    if line.startswith("# posting: "):
        inside = line.rstrip() == f"# posting: {p}"
        out.append(line)
        out += [f"{p}/{n}" for n in flat] if inside else []
    elif not (inside and line.split("#", 1)[0].strip()):
        out.append(line)
open("series", "w").write("\n".join(out) + "\n")
EOF
echo "patches/$P/: $(wc -l < "$flat") patches of $BR"
done
echo "now: ./patchtree edit --force && ./patchtree export"
