"""Build and run the real Dockerfile with podman where the official Python
image cannot be pulled: a Debian bookworm base (python3 + pip) is made with
mmdebstrap from the mirrors this machine's apt already uses, imported once and
reused by its tag.

    python -m tests.container_build            # base (if missing) + image
    python -m tests.container_build --base     # the base only
"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE_TAG = 'localhost/clinicdesk-base:bookworm-python'
IMAGE_TAG = 'localhost/clinicdesk:test'
APT_DIR = Path('/etc/apt')
SUITE = 'bookworm'
BASE_PACKAGES = 'python3,python3-pip,python-is-python3,ca-certificates'
# podman on hosts with hybrid cgroups: crun cannot set rlimits or find its
# cgroup, runc with cgroupfs can.
RUN_FLAGS = ['--runtime', 'runc', '--cgroup-manager', 'cgroupfs',
             '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096']
NICE = ['nice', '-n', '10']


def podman(*args, check=True, capture=True, timeout=600):
    return subprocess.run(['podman', *args], check=check, text=True, timeout=timeout,
                          capture_output=capture)


def image_exists(tag):
    return podman('image', 'exists', tag, check=False).returncode == 0


def _deb822_lines(text):
    for stanza in text.split('\n\n'):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith('#') or ':' not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(':')
            fields[key.strip().lower()] = value.split()
        if 'deb' not in fields.get('types', []) or fields.get('enabled', ['yes'])[0] == 'no':
            continue
        for uri in fields.get('uris', []):
            for suite in fields.get('suites', []):
                yield ' '.join(['deb', uri, suite, *fields.get('components', ['main'])])


def apt_mirrors(apt_dir=APT_DIR):
    """The bookworm `deb` lines this machine's apt uses, one-line form."""
    lines = []
    one_line_files = [apt_dir / 'sources.list', *sorted((apt_dir / 'sources.list.d').glob('*.list'))]
    for path in one_line_files:
        if path.is_file():
            lines += [line.split('#')[0].strip() for line in path.read_text().splitlines()]
    for path in sorted((apt_dir / 'sources.list.d').glob('*.sources')):
        lines += list(_deb822_lines(path.read_text()))
    chosen = [line for line in lines
              if line.startswith('deb ') and '[' not in line and f' {SUITE}' in line]
    if not chosen:
        raise RuntimeError(f'no Debian {SUITE} mirror in {apt_dir}')
    return chosen


def build_base(tag=BASE_TAG):
    """Debian bookworm + python3 + pip as an image, made once per machine."""
    if image_exists(tag):
        return tag
    with tempfile.TemporaryDirectory(prefix='clinicdesk-base-') as work:
        rootfs = Path(work) / 'rootfs.tar'
        # Debian marks its Python as externally managed; the image is the
        # environment, so pip installs into it like the official image does.
        hook = 'rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED'
        subprocess.run([*NICE, 'mmdebstrap', '--quiet', '--variant=minbase',
                        f'--include={BASE_PACKAGES}', f'--customize-hook={hook}',
                        SUITE, str(rootfs), *apt_mirrors()], check=True, timeout=900)
        podman('import', '--change',
               'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
               '--change', 'CMD ["python3"]', str(rootfs), tag, timeout=900)
    return tag


def _pip_cert():
    """This machine's CA bundle for pip (a TLS-inspecting proxy), if it has one."""
    for name in ('PIP_CERT', 'REQUESTS_CA_BUNDLE', 'SSL_CERT_FILE'):
        value = os.environ.get(name)
        if value and Path(value).is_file():
            return value
    return None


def pip_build_args(work):
    """Secrets and build arguments that carry pip's index and CA bundle into
    the build without writing either into the Dockerfile or the image."""
    lines = ['[global]']
    args = []
    cert = _pip_cert()
    if cert:
        lines.append('cert = /run/secrets/ca.crt')
        args += ['--secret', f'id=ca.crt,src={cert}']
    for name, key in (('PIP_INDEX_URL', 'index-url'), ('PIP_EXTRA_INDEX_URL', 'extra-index-url')):
        value = os.environ.get(name, '')
        if value.startswith(('http://', 'https://')):
            lines.append(f'{key} = {value}')
    conf = Path(work) / 'pip.conf'
    conf.write_text('\n'.join(lines) + '\n')
    return [*args, '--secret', f'id=pip.conf,src={conf}']


def build_image(tag=IMAGE_TAG, base=None):
    base = base or build_base()
    with tempfile.TemporaryDirectory(prefix='clinicdesk-build-') as work:
        subprocess.run([*NICE, 'podman', 'build', '--format', 'docker', '--isolation', 'chroot',
                        '--network', 'host', '--build-arg', f'BASE={base}',
                        *pip_build_args(work), '-t', tag, str(ROOT)],
                       check=True, timeout=900, capture_output=True, text=True)
    return tag


def run_container(name, image, volume, port, env=()):
    """Start the image detached, /data on a named volume, 8080 on `port`."""
    extra = [arg for key, value in dict(env).items() for arg in ('-e', f'{key}={value}')]
    podman('run', '-d', '--name', name, *RUN_FLAGS, '-p', f'127.0.0.1:{port}:8080',
           '-v', f'{volume}:/data', *extra, image)
    return name


def main(argv):
    if not shutil.which('podman') or not shutil.which('mmdebstrap'):
        print('needs podman and mmdebstrap', file=sys.stderr)
        return 2
    base = build_base()
    print(base)
    if '--base' not in argv:
        print(build_image(base=base))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
