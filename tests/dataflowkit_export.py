"""A results file downloaded as the API reference says, without any hubfs code: `GET
/getlink` with the file name as the body, then a plain GET of the link it answers."""

import requests

from backends.dataflowkit.emulator import DEMO_API_KEY


def download(url, results_name):
    link = requests.get(f"{url}v1/getlink", params={"api_key": DEMO_API_KEY}, data=results_name,
                        timeout=10).text
    return requests.get(link, timeout=10).content
