"""Stand-in for ansible-test's get-pip bootstrap, whose download host is unreachable here.

ansible-test runs ~/.ansible/test/cache/get_pip_<ver>.py with get-pip's arguments, for example
['--disable-pip-version-check', 'pip==24.2', '--no-setuptools', '--no-wheel']: seed pip with
ensurepip, then install the pinned pip from the package index.
"""
import subprocess
import sys

args = sys.argv[1:]
no_setuptools = '--no-setuptools' in args
args = [a for a in args if a not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, '-m', 'pip', 'install', '-q'] + args)
if no_setuptools:
    subprocess.call([sys.executable, '-m', 'pip', 'uninstall', '-q', '-y', 'setuptools'])
