"""Train an MLP that forecasts the next 24 hours of PJM East load from the last 168 hours,
on the vendored PJME series, and export it to ONNX for Fogline.

Input  `history`  FP32 [batch, 168]: the last 168 hourly loads in MW, raw, oldest first.
Output `forecast` FP32 [batch, 24]:  the next 24 hourly loads in MW.
The training data's mean and standard deviation are constants inside the model, so clients send MW.

Run: /usr/bin/python3 examples/pytorch/train_load_forecaster.py [--out DIR] [--data DIR]
"""

import csv
import time
from datetime import datetime, timedelta

from export_common import data_file, export, make_deterministic, parse_args, print_written, torch

NAME = "load-forecaster"
WINDOW = 168
HORIZON = 24
TEST_HOURS = 365 * 24  # the last twelve months are held out
EPOCHS = 10
BATCH = 256
HIDDEN = 128


class LoadForecaster(torch.nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        # Buffers: exported as constants, so the ONNX model takes and returns MW.
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))
        self.net = torch.nn.Sequential(
            torch.nn.Linear(WINDOW, HIDDEN),
            torch.nn.ReLU(),
            torch.nn.Linear(HIDDEN, HIDDEN),
            torch.nn.ReLU(),
            torch.nn.Linear(HIDDEN, HORIZON),
        )

    def normalised(self, history):
        return self.net((history - self.mean) / self.std)

    def forward(self, history):
        return self.normalised(history) * self.std + self.mean


def load_hourly_series(path):
    """The CSV as one gap-free hourly series: sorted by time (the file is not), duplicate hours
    (daylight-saving fall-back) averaged, missing hours (spring-forward) interpolated."""
    by_hour = {}
    with path.open(newline="") as file:
        for row in csv.DictReader(file):
            hour = datetime.strptime(row["Datetime"], "%Y-%m-%d %H:%M:%S")
            by_hour.setdefault(hour, []).append(float(row["PJME_MW"]))
    hours = sorted(by_hour)
    duplicates = sum(len(v) > 1 for v in by_hour.values())
    values, missing, previous = [], 0, None
    for hour in hours:
        value = sum(by_hour[hour]) / len(by_hour[hour])
        if previous is not None:
            gap = int((hour - previous) / timedelta(hours=1))
            for step in range(1, gap):
                values.append(values[-1] + (value - values[-1]) * step / gap)
                missing += 1
        values.append(value)
        previous = hour
    return torch.tensor(values, dtype=torch.float32), hours[0], duplicates, missing


def windows(series, stride=1):
    """(history, future) pairs: every WINDOW hours followed by the next HORIZON hours."""
    frames = series.unfold(0, WINDOW + HORIZON, stride)
    return frames[:, :WINDOW], frames[:, WINDOW:]


def mape(forecast, actual):
    return ((forecast - actual).abs() / actual).mean().item() * 100


def main():
    args = parse_args(__doc__.splitlines()[0], EPOCHS)
    make_deterministic(args.seed)
    started = time.perf_counter()

    path = data_file(args.data, "energy/PJME_hourly_trimmed.csv")
    series, first_hour, duplicates, missing = load_hourly_series(path)
    split = len(series) - TEST_HOURS
    train_series = series[:split]
    # Test windows may look back into the training months, but forecast only held-out hours.
    test_series = series[split - WINDOW :]
    train_x, train_y = windows(train_series)
    test_x, test_y = windows(test_series, stride=HORIZON)  # one forecast a day, at the hour the series starts
    print(
        f"{path}: {len(series)} hours from {first_hour} ({duplicates} duplicate hours averaged, {missing} missing interpolated); "
        f"training on the first {split} hours ({len(train_x)} windows), testing on the last {TEST_HOURS} ({len(test_x)} daily forecasts)"
    )
    print(f"seasonal-naive baseline (repeat the last 24 h): test MAPE {mape(test_x[:, -HORIZON:], test_y):.2f}%")

    model = LoadForecaster(train_series.mean().item(), train_series.std().item())
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    # Decay the step size to zero, so the last epoch settles instead of jumping around.
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    loss_fn = torch.nn.MSELoss()
    target = (train_y - model.mean) / model.std
    for epoch in range(1, args.epochs + 1):
        model.train()
        total = 0.0
        for batch in torch.randperm(len(train_x)).split(BATCH):
            optimizer.zero_grad()
            loss = loss_fn(model.normalised(train_x[batch]), target[batch])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        schedule.step()
        model.eval()
        with torch.no_grad():
            train_mape = mape(model(train_x[::24]), train_y[::24])
            test_mape = mape(model(test_x), test_y)
        print(f"epoch {epoch:2d}/{args.epochs}  loss {total / len(train_x):.4f}  train MAPE {train_mape:.2f}%  test MAPE {test_mape:.2f}%")
    trained = time.perf_counter() - started
    print(f"test MAPE {test_mape:.2f}% over {len(test_x)} held-out 24-hour forecasts ({trained:.1f} s)")

    written = export(model, test_x[:1], args.out, NAME, "history", "forecast", test_x)
    print_written(written)


if __name__ == "__main__":
    main()
