"""The airline domain's tools, with tau-bench's behaviour and exact return strings."""

from __future__ import annotations

import json
from copy import deepcopy
from typing import Any

from m1eval.tau.calculate import calculate as _calculate

Data = dict[str, Any]

AIRPORTS = ["SFO", "JFK", "LAX", "ORD", "DFW", "DEN", "SEA", "ATL", "MIA", "BOS", "PHX", "IAH",
            "LAS", "MCO", "EWR", "CLT", "MSP", "DTW", "PHL", "LGA"]  # fmt: skip
CITIES = ["San Francisco", "New York", "Los Angeles", "Chicago", "Dallas", "Denver", "Seattle",
          "Atlanta", "Miami", "Boston", "Phoenix", "Houston", "Las Vegas", "Orlando", "Newark",
          "Charlotte", "Minneapolis", "Detroit", "Philadelphia", "LaGuardia"]  # fmt: skip


def _price_flight(data: Data, flight: dict, cabin: str, passengers: int) -> str | None:
    """Check a flight can be booked for ``passengers`` in ``cabin``; set its price and route."""
    number = flight["flight_number"]
    if number not in data["flights"]:
        return f"Error: flight {number} not found"
    flight_data = data["flights"][number]
    if flight["date"] not in flight_data["dates"]:
        return f"Error: flight {number} not found on date {flight['date']}"
    on_date = flight_data["dates"][flight["date"]]
    if on_date["status"] != "available":
        return f"Error: flight {number} not available on date {flight['date']}"
    if on_date["available_seats"][cabin] < passengers:
        return f"Error: not enough seats on flight {number}"
    flight["price"] = on_date["prices"][cabin]
    flight["origin"] = flight_data["origin"]
    flight["destination"] = flight_data["destination"]
    return None


def book_reservation(
    data: Data, user_id: str, origin: str, destination: str, flight_type: str, cabin: str,
    flights: list, passengers: list, payment_methods: list, total_baggages: int,
    nonfree_baggages: int, insurance: str,
) -> str:  # fmt: skip
    reservations, users = data["reservations"], data["users"]
    if user_id not in users:
        return "Error: user not found"
    user = users[user_id]
    reservation_id = "HATHAT"  # at most three bookings per task
    if reservation_id in reservations:
        reservation_id = "HATHAU"
        if reservation_id in reservations:
            reservation_id = "HATHAV"
    reservation = {
        "reservation_id": reservation_id, "user_id": user_id, "origin": origin,
        "destination": destination, "flight_type": flight_type, "cabin": cabin,
        "flights": deepcopy(flights), "passengers": passengers,
        "payment_history": payment_methods, "created_at": "2024-05-15T15:00:00",
        "total_baggages": total_baggages, "nonfree_baggages": nonfree_baggages,
        "insurance": insurance,
    }  # fmt: skip
    total_price = 0
    for flight in reservation["flights"]:
        error = _price_flight(data, flight, cabin, len(passengers))
        if error:
            return error
        total_price += flight["price"] * len(passengers)
    if insurance == "yes":
        total_price += 30 * len(passengers)
    total_price += 50 * nonfree_baggages
    for method in payment_methods:
        pid, amount = method["payment_id"], method["amount"]
        if pid not in user["payment_methods"]:
            return f"Error: payment method {pid} not found"
        method = user["payment_methods"][pid]
        if method["source"] in ["gift_card", "certificate"] and method["amount"] < amount:
            return f"Error: not enough balance in payment method {pid}"
    paid = sum(p["amount"] for p in payment_methods)
    if paid != total_price:
        return (f"Error: payment amount does not add up, total price is {total_price}, "
                f"but paid {paid}")  # fmt: skip
    for method in payment_methods:
        pid, amount = method["payment_id"], method["amount"]
        if user["payment_methods"][pid]["source"] == "gift_card":
            user["payment_methods"][pid]["amount"] -= amount
        elif user["payment_methods"][pid]["source"] == "certificate":
            del user["payment_methods"][pid]
    reservations[reservation_id] = reservation
    user["reservations"].append(reservation_id)
    return json.dumps(reservation)


def calculate(data: Data, expression: str) -> str:
    return _calculate(expression)


def cancel_reservation(data: Data, reservation_id: str) -> str:
    reservations = data["reservations"]
    if reservation_id not in reservations:
        return "Error: reservation not found"
    reservation = reservations[reservation_id]
    refunds = [{"payment_id": p["payment_id"], "amount": -p["amount"]}
               for p in reservation["payment_history"]]  # fmt: skip
    reservation["payment_history"].extend(refunds)
    reservation["status"] = "cancelled"
    return json.dumps(reservation)


def get_reservation_details(data: Data, reservation_id: str) -> str:
    if reservation_id not in data["reservations"]:
        return "Error: user not found"  # sic: tau-bench's own message for a missing reservation
    return json.dumps(data["reservations"][reservation_id])


def get_user_details(data: Data, user_id: str) -> str:
    if user_id not in data["users"]:
        return "Error: user not found"
    return json.dumps(data["users"][user_id])


def list_all_airports(data: Data) -> str:
    return json.dumps(dict(zip(AIRPORTS, CITIES, strict=True)))


def search_direct_flight(data: Data, origin: str, destination: str, date: str) -> str:
    results = []
    for flight in data["flights"].values():
        on_route = flight["origin"] == origin and flight["destination"] == destination
        if on_route and date in flight["dates"] and flight["dates"][date]["status"] == "available":
            results.append({k: v for k, v in flight.items() if k != "dates"})
            results[-1].update(flight["dates"][date])
    return json.dumps(results)


def search_onestop_flight(data: Data, origin: str, destination: str, date: str) -> str:
    results = []
    for first in data["flights"].values():
        if first["origin"] != origin:
            continue
        for second in data["flights"].values():
            if second["destination"] != destination or first["destination"] != second["origin"]:
                continue
            date2 = (f"2024-05-{int(date[-2:]) + 1}"
                     if "+1" in first["scheduled_arrival_time_est"] else date)  # fmt: skip
            if first["scheduled_arrival_time_est"] > second["scheduled_departure_time_est"]:
                continue
            if (date in first["dates"] and date2 in second["dates"]
                    and first["dates"][date]["status"] == "available"
                    and second["dates"][date2]["status"] == "available"):  # fmt: skip
                leg1 = {k: v for k, v in first.items() if k != "dates"}
                leg1.update(first["dates"][date])
                leg1["date"] = date
                leg2 = {k: v for k, v in second.items() if k != "dates"}
                leg2.update(second["dates"][date])
                leg2["date"] = date2
                results.append([leg1, leg2])
    return json.dumps(results)


def send_certificate(data: Data, user_id: str, amount: int) -> str | None:
    users = data["users"]
    if user_id not in users:
        return "Error: user not found"
    user = users[user_id]
    for number in (3221322, 3221323, 3221324):  # at most three per task
        pid = f"certificate_{number}"
        if pid not in user["payment_methods"]:
            user["payment_methods"][pid] = {"source": "certificate", "amount": amount, "id": pid}
            return f"Certificate {pid} added to user {user_id} with amount {amount}."
    return None  # a fourth: tau-bench's tool returns nothing, and the agent is shown None


def think(data: Data, thought: str) -> str:
    return ""


def transfer_to_human_agents(data: Data, summary: str) -> str:
    return "Transfer successful"


def _payment(data: Data, reservation: dict, payment_id: str, total_price: float) -> str | None:
    methods = data["users"][reservation["user_id"]]["payment_methods"]
    if payment_id not in methods:
        return "Error: payment method not found"
    method = methods[payment_id]
    if method["source"] == "certificate":
        return "Error: certificate cannot be used to update reservation"
    if method["source"] == "gift_card" and method["amount"] < total_price:
        return "Error: gift card balance is not enough"
    return None


def update_reservation_baggages(data: Data, reservation_id: str, total_baggages: int,
                                nonfree_baggages: int, payment_id: str) -> str:  # fmt: skip
    reservations = data["reservations"]
    if reservation_id not in reservations:
        return "Error: reservation not found"
    reservation = reservations[reservation_id]
    total_price = 50 * max(0, nonfree_baggages - reservation["nonfree_baggages"])
    error = _payment(data, reservation, payment_id, total_price)
    if error:
        return error
    method = data["users"][reservation["user_id"]]["payment_methods"][payment_id]
    reservation["total_baggages"] = total_baggages
    reservation["nonfree_baggages"] = nonfree_baggages
    if method["source"] == "gift_card":
        method["amount"] -= total_price
    if total_price != 0:
        reservation["payment_history"].append({"payment_id": payment_id, "amount": total_price})
    return json.dumps(reservation)


def update_reservation_flights(data: Data, reservation_id: str, cabin: str, flights: list,
                               payment_id: str) -> str:  # fmt: skip
    reservations = data["reservations"]
    if reservation_id not in reservations:
        return "Error: reservation not found"
    reservation = reservations[reservation_id]
    n = len(reservation["passengers"])
    total_price = 0
    flights = deepcopy(flights)
    for flight in flights:
        same = [f for f in reservation["flights"] if f["flight_number"] == flight["flight_number"]
                and f["date"] == flight["date"] and cabin == reservation["cabin"]]  # fmt: skip
        if same:  # an unchanged flight keeps its price
            total_price += same[0]["price"] * n
            flight["price"] = same[0]["price"]
            flight["origin"] = same[0]["origin"]
            flight["destination"] = same[0]["destination"]
            continue
        error = _price_flight(data, flight, cabin, n)
        if error:
            return error
        total_price += flight["price"] * n
    total_price -= sum(f["price"] for f in reservation["flights"]) * n
    error = _payment(data, reservation, payment_id, total_price)
    if error:
        return error
    method = data["users"][reservation["user_id"]]["payment_methods"][payment_id]
    if method["source"] == "gift_card":
        method["amount"] -= total_price
    reservation["flights"] = flights
    if total_price != 0:
        reservation["payment_history"].append({"payment_id": payment_id, "amount": total_price})
    return json.dumps(reservation)


def update_reservation_passengers(data: Data, reservation_id: str, passengers: list) -> str:
    reservations = data["reservations"]
    if reservation_id not in reservations:
        return "Error: reservation not found"
    reservation = reservations[reservation_id]
    if len(passengers) != len(reservation["passengers"]):
        return "Error: number of passengers does not match"
    reservation["passengers"] = passengers
    return json.dumps(reservation)


TOOLS = {f.__name__: f for f in (
    book_reservation, calculate, cancel_reservation, get_reservation_details, get_user_details,
    list_all_airports, search_direct_flight, search_onestop_flight, send_certificate, think,
    transfer_to_human_agents, update_reservation_baggages, update_reservation_flights,
    update_reservation_passengers,
)}  # fmt: skip
TERMINATE_TOOLS = ("transfer_to_human_agents",)


# tau-bench's tools are classes whose static ``invoke`` is called with the model's arguments:
# a missing or unknown argument reads "GetUserDetails.invoke() missing ..." there, and here
# (arguments that are not an object name the module too)
for _name, _tool in TOOLS.items():
    _tool.__qualname__ = "".join(w.title() for w in _name.split("_")) + ".invoke"
    _tool.__module__ = f"tau_bench.envs.airline.tools.{_name}"
