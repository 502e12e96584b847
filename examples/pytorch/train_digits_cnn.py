"""Train a small CNN on the vendored UCI optdigits data and export it to ONNX for Fogline.

Input  `pixels`        FP32 [batch, 64]: an 8x8 image row by row, raw 0..16 as in the CSV.
Output `probabilities` FP32 [batch, 10]: softmax over the digits 0..9 (labels.txt, one per line).

Run: /usr/bin/python3 examples/pytorch/train_digits_cnn.py [--out DIR] [--data DIR]
"""

import time

from export_common import data_file, export, make_deterministic, parse_args, print_written, torch

NAME = "digits-cnn"
EPOCHS = 25
BATCH = 32
TEST_FRACTION = 0.2


class DigitsCnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 16, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.Conv2d(16, 32, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
        )
        self.classifier = torch.nn.Sequential(
            torch.nn.Flatten(),
            torch.nn.Dropout(0.25),
            torch.nn.Linear(32 * 4 * 4, 64),
            torch.nn.ReLU(),
            torch.nn.Linear(64, 10),
        )

    def logits(self, pixels):
        # Scale and reshape inside the model, so a client sends the CSV row as it is.
        images = (pixels / 16.0).reshape(-1, 1, 8, 8)
        return self.classifier(self.features(images))

    def forward(self, pixels):
        return torch.softmax(self.logits(pixels), dim=1)


def load_digits(path):
    rows = [line.split(",") for line in path.read_text().splitlines() if line.strip()]
    values = torch.tensor([[float(v) for v in row] for row in rows], dtype=torch.float32)
    return values[:, :64], values[:, 64].long()


def accuracy(model, pixels, digits):
    model.eval()
    with torch.no_grad():
        return (model(pixels).argmax(dim=1) == digits).float().mean().item()


def main():
    args = parse_args(__doc__.splitlines()[0], EPOCHS)
    make_deterministic(args.seed)
    started = time.perf_counter()

    csv = data_file(args.data, "optdigits/optdigits.csv")
    pixels, digits = load_digits(csv)
    # The vendored file is UCI's test part only (1,797 rows): hold out a seeded 20% of it.
    order = torch.randperm(len(digits), generator=torch.Generator().manual_seed(15))
    test_count = int(len(digits) * TEST_FRACTION)
    test, train = order[:test_count], order[test_count:]
    print(f"{csv}: {len(digits)} images; training on {len(train)}, testing on {len(test)}")

    model = DigitsCnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    for epoch in range(1, args.epochs + 1):
        model.train()
        total = 0.0
        for batch in train[torch.randperm(len(train))].split(BATCH):
            optimizer.zero_grad()
            loss = loss_fn(model.logits(pixels[batch]), digits[batch])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        print(
            f"epoch {epoch:2d}/{args.epochs}  loss {total / len(train):.4f}  "
            f"train acc {accuracy(model, pixels[train], digits[train]):.4f}  "
            f"test acc {accuracy(model, pixels[test], digits[test]):.4f}"
        )
    trained = time.perf_counter() - started
    print(f"test accuracy {accuracy(model, pixels[test], digits[test]):.4f} on {len(test)} held-out images ({trained:.1f} s)")

    written = export(model, pixels[:1], args.out, NAME, "pixels", "probabilities", pixels[test])
    labels = args.out / "labels.txt"
    labels.write_text("".join(f"{digit}\n" for digit in range(10)))
    print_written(written + [labels])


if __name__ == "__main__":
    main()
