"""Opening a tutorial .pth in the explorer: checked here, converted in a child process."""
import io
import pickle
import zipfile

import pytest
import torch

from vae_explorer import tutorial_import as ti
from vae_explorer.checkpoints import open_bytes
from tests.test_tutorial_models import CelebaConv, NestedFC

LIMIT = 50 * 2**20


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _saved(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_a_good_file_asks_for_the_dataset_then_opens():
    data = _saved(NestedFC().state_dict())
    first = ti.convert_bytes(data, "my vae.pth", None, LIMIT)
    assert first.data is None and first.need_dataset == ["mnist", "fashion-mnist", "kmnist"]
    res = ti.convert_bytes(data, "my vae.pth", "fashion-mnist", LIMIT)
    assert res.error == "" and res.layout == "nested-fc"
    ck, err = open_bytes(res.data, "my vae.safetensors")
    assert err is None
    assert ck.data.dataset == "fashion-mnist" and ck.model_config.hidden == [300]
    assert ck.info["converted"]["source_file"] == "my_vae.pth"


def test_rgb_64_is_taken_as_celeba_without_asking():
    res = ti.convert_bytes(_saved(CelebaConv().state_dict()), "celeba.pt", None, LIMIT)
    assert res.error == "" and res.need_dataset == []
    ck, err = open_bytes(res.data, "c.safetensors")
    assert err is None and ck.data.dataset == "celeba"


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("how", ["torch-zip", "raw-pickle"])
def test_pickle_payloads_are_refused_and_do_not_run(tmp_path, how):
    marker = tmp_path / "pwned"
    evil = _Evil(str(marker))
    data = _saved({"fc1.weight": evil}) if how == "torch-zip" else pickle.dumps(evil, protocol=4)
    res = ti.convert_bytes(data, "evil.pth", "mnist", LIMIT)
    assert res.data is None and "weights_only=True refused it" in res.error
    assert not marker.exists()


def test_zip_bombs_and_oversized_zips_are_refused_before_any_unpickling():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", b"\0" * (20 * 2**20))
    bomb = buf.getvalue()
    assert len(bomb) < 100_000
    assert "compressed suspiciously densely" in ti.inspect_bytes(bomb, "b.pth", LIMIT)
    assert "unpacks to" in ti.inspect_bytes(bomb, "b.pth", 2**20)
    assert "unpacks to" in ti.convert_bytes(bomb, "b.pth", "mnist", 2**20).error
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(ti.MAX_ZIP_ENTRIES + 1):
            z.writestr(f"archive/data/{i}", b"")
    assert "entries in the zip" in ti.inspect_bytes(buf.getvalue(), "m.pth", LIMIT)
    assert "not a torch.save file" in ti.inspect_bytes(b"hello", "m.pth", LIMIT)


def test_huge_tensor_claims_and_non_dicts_are_refused():
    huge = torch.zeros(1).expand(2**20, 2**20)  # one stored value claiming 2**40
    res = ti.convert_bytes(_saved({"fc1.weight": huge}), "huge.pth", "mnist", LIMIT)
    assert res.data is None and "over the limits" in res.error
    res = ti.convert_bytes(_saved([torch.zeros(3)]), "list.pth", "mnist", LIMIT)
    assert res.data is None and "expected a dict of name -> tensor" in res.error
