#!/usr/bin/env bash
# Installs the Debian packages the platform and its tests need (nmap, nikto,
# PostgreSQL, chromium for the portal's browser tests, poppler's pdftotext for
# the report tests), only when missing.
# nikto lives in Debian's non-free component; we add it through a private sources
# file so the machine's own apt configuration is left untouched.
set -euo pipefail

need=()
command -v nmap >/dev/null 2>&1 || need+=(nmap)
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need+=(postgresql)
fi
command -v runuser >/dev/null 2>&1 || need+=(util-linux)
# The portal's browser tests drive Debian's chromium headless (chromedp).
if ! command -v chromium >/dev/null 2>&1; then need+=(chromium fonts-dejavu-core); fi
# The report tests read their PDFs' text with pdftotext.
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

if ! command -v nikto >/dev/null 2>&1; then
  echo "install-deps: installing nikto from Debian non-free"
  tmp=$(mktemp -d)
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  echo "deb http://deb.debian.org/debian ${codename} main non-free" > "$tmp/nonfree.list"
  opts=(-o "Dir::Etc::SourceList=$tmp/nonfree.list" -o "Dir::Etc::SourceParts=-" -o "APT::Get::List-Cleanup=0")
  if $SUDO apt-get "${opts[@]}" update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${opts[@]}" install -y -qq --no-install-recommends nikto; then
    :
  else
    echo "install-deps: nikto could not be installed; nikto tests will be skipped" >&2
  fi
  rm -rf "$tmp"
fi

# Ownership of temp clusters needs the postgres system user.
id postgres >/dev/null 2>&1 || $SUDO useradd --system --home /var/lib/postgresql --shell /bin/bash postgres
exit 0
