# shellcheck shell=bash
# Private apt state for the provisioning scripts: Debian packages are downloaded with apt-get using
# a state of our own under $APTDIR/<suite> (/etc/apt and /var/lib/apt are never touched), from the
# archive this machine already uses. Source it; callers define APTDIR and die().

debian_archive() { # the Debian archive this machine already uses, from its own apt configuration
  local uri
  uri=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v -- '-security' | head -1)
  [ -n "$uri" ] || uri=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '{print $2}' | grep -v -- '-security' | head -1)
  [ -n "$uri" ] || die "no Debian archive is configured in /etc/apt"
  echo "$uri"
}

apt_opts() { # apt_opts SUITE: apt options for the private state of SUITE
  local d=$APTDIR/$1
  printf '%s\n' -o "Dir::Etc::SourceList=$d/sources.list" -o "Dir::Etc::SourceParts=/dev/null" \
    -o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=/dev/null" \
    -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache" -o "APT::Sandbox::User=root" \
    -o "Acquire::Languages=none"
}
